"""Deals folded from their events for the dashboard's meeting pages: state and last contact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from service.application.services import Services
from service.events.recorded import RecordedEvent
from service.projections.analytics import OPEN_STAGES
from service.projections.contacts import last_contact
from service.projections.deal import DealState, deal_state_at
from service.store.queries.deals import deals_in_stages


@dataclass(frozen=True, slots=True)
class FoldedDeal:
    """A deal's state at (`as_of`, `known_at`) and when its client was last contacted."""

    state: DealState
    last_contact: datetime | None


async def open_deal_ids(
    conn: AsyncConnection, *, as_of: datetime, known_at: datetime, owner: str | None = None
) -> list[str]:
    """The deals in an open stage at (`as_of`, `known_at`), of `owner` when given."""
    return await deals_in_stages(
        conn, as_of=as_of, known_at=known_at, stages=OPEN_STAGES, owner_rep_id=owner
    )


async def fold_deals(
    services: Services,
    ids: Sequence[str],
    *,
    as_of: datetime,
    known_at: datetime,
    contacts: bool = True,
) -> list[FoldedDeal]:
    """Each deal of `ids` folded from its events at (`as_of`, `known_at`), in the given order
    (a deal without a counting event then is left out); without `contacts`, the last contact
    is not looked for (None)."""
    streams: dict[str, list[RecordedEvent]] = {deal_id: [] for deal_id in ids}
    for event in await services.read_log.streams(list(streams), known_at) if streams else []:
        streams[event.subject].append(event)
    folded = []
    for deal_id, stream in streams.items():
        state = deal_state_at(deal_id, stream, as_of=as_of, known_at=known_at)
        if state is not None:
            contact = last_contact(stream, as_of=as_of, known_at=known_at) if contacts else None
            folded.append(FoldedDeal(state, contact))
    return folded

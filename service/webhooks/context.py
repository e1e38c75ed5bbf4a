"""What the ledger already knows of a deal: owner and amount, for vendors that do not say."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from service.projections.deal import deal_state_at, is_deal
from service.store.log.reader import EventReader


@dataclass(frozen=True, slots=True)
class DealContext:
    """A deal's owner, amount, stage and visits at some valid time, as far as the ledger knows
    (`exists`: the deal has an event by then)."""

    owner_rep_id: str | None = None
    amount: str | None = None
    currency: str | None = None
    stage: str | None = None
    visits: int = 0
    exists: bool = False


DealLookup = Callable[[str, datetime], Awaitable[DealContext]]


def ledger_lookup(reader: EventReader) -> DealLookup:
    """A lookup of deal context at a valid time, from the ledger's own events."""

    async def lookup(subject: str, at: datetime) -> DealContext:
        if not is_deal(subject):
            return DealContext()
        state = deal_state_at(subject, await reader.stream(subject), as_of=at, known_at=None)
        if state is None:
            return DealContext()
        visits = state.fsi_visits + state.fua_visits
        return DealContext(
            state.owner_rep_id, state.amount, state.currency, state.stage, visits, exists=True
        )

    return lookup

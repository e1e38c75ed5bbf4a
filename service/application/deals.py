"""Reading deals: one deal folded at (`as_of`, `known_at`), its events, and lists of deals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.application.consistent_reads import Consistency, replica_has_head, snapshot
from service.application.services import Services
from service.events.recorded import RecordedEvent
from service.projections.deal import DealState, deal_state_at, is_deal
from service.projections.teams import team_at
from service.store.queries.deals import DealFilter, deal_ids
from service.store.queries.teams import team_history_known_at


@dataclass(frozen=True, slots=True)
class DealAt:
    """A deal's state and the log position its events were read at."""

    state: DealState
    position: int


async def read_deal(
    services: Services, deal_id: str, *, as_of: datetime, known_at: datetime
) -> DealAt | None:
    """The deal folded from its events at (`as_of`, `known_at`); None if it had none then.

    On a read replica, first waits until it holds every event acknowledged before the request.
    """
    if not is_deal(deal_id):
        return None
    await replica_has_head(services)
    stream, position = await services.read_log.stream_and_head(deal_id, known_at)
    state = deal_state_at(deal_id, stream, as_of=as_of, known_at=known_at)
    if state is None or position is None:
        return None
    return DealAt(state, position)


async def deal_events(
    services: Services, deal_id: str, *, known_at: datetime
) -> tuple[list[RecordedEvent], int]:
    """The deal's events known at `known_at` (none for a subject that is no deal), and the
    log's head read just before them (on a read replica, once it holds every event
    acknowledged before the request)."""
    await replica_has_head(services)
    head = await services.read_log.head()
    stream = await services.read_log.stream(deal_id, known_at) if is_deal(deal_id) else []
    return stream, head


@dataclass(frozen=True, slots=True)
class DealQuery:
    """Which deals to list: those existing at (`as_of`, `known_at`), filtered, by id."""

    as_of: datetime
    known_at: datetime
    stage: str | None = None
    owner: str | None = None
    team: str | None = None
    after: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class DealList:
    """A page of deals, the ids it covered (for the next cursor) and the snapshot's position."""

    states: list[DealState]
    ids: list[str]
    position: int


async def list_deals(
    services: Services,
    query: DealQuery,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> DealList:
    """A page of deals picked from the read models, each folded from its events."""
    at, known = query.as_of, query.known_at
    async with snapshot(services, min_position, consistency, replica=True) as snap:
        owners = None
        if query.team is not None:
            history = await team_history_known_at(snap.conn, known)
            owners = [rep for rep in history if team_at(history, rep, at) == query.team]
        where = DealFilter(stage=query.stage, owner_rep_id=query.owner, owners=owners)
        ids = await deal_ids(
            snap.conn, as_of=at, known_at=known, where=where, after=query.after, limit=query.limit
        )
        position = snap.position
    streams: dict[str, list[RecordedEvent]] = {deal_id: [] for deal_id in ids}
    for event in await services.read_log.streams(ids, known) if ids else []:
        streams[event.subject].append(event)
    states = [deal_state_at(d, streams[d], as_of=at, known_at=known) for d in ids]
    return DealList([state for state in states if state is not None], ids, position)

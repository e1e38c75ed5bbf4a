"""`/v1/deals`: a deal's state and events at any (`as_of`, `known_at`), and deal lists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Response

from service.api.auth import ReaderKey
from service.api.deps import ServicesDep
from service.api.params import as_of_or_now, known_at_or_now
from service.api.problems import Problem
from service.api.reads import Consistency, snapshot
from service.api.schemas import DealEvents, DealPage, DealResponse
from service.events.recorded import RecordedEvent
from service.events.vocabulary import RETRACTION
from service.projections.deal import deal_state_at, is_deal
from service.projections.knowledge import order_key
from service.projections.teams import team_at
from service.store.chain import iso
from service.store.deal_query import DealFilter, deal_ids
from service.store.teams_query import team_history_known_at

router = APIRouter(prefix="/v1/deals", tags=["deals"])

StageName = Literal[
    "lead", "opportunity", "eb_committed", "committed", "won", "lost", "disqualified"
]
DealId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
AsOf = Annotated[str | None, Query(description="Valid time: a date (its end) or a date-time.")]
KnownAt = Annotated[str | None, Query(description="Transaction time; default now.")]
MinPosition = Annotated[int | None, Query(ge=0, description="Wait until this is projected.")]
ConsistencyParam = Annotated[Consistency, Query(description="strong: wait for all acknowledged")]


def _not_found(deal_id: str) -> Problem:
    return Problem(
        404, "deal-not-found", f"deal {deal_id!r} has no event at that time", title="Deal not found"
    )


@router.get("/{deal_id}", response_model=DealResponse, summary="A deal's state")
async def get_deal(
    deal_id: DealId,
    services: ServicesDep,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Response:
    """The deal folded from its events at (`as_of`, `known_at`); 404 if it had none then."""
    settings = services.settings
    at, known = as_of_or_now(settings, as_of), known_at_or_now(settings, known_at)
    if not is_deal(deal_id):
        raise _not_found(deal_id)
    stream, position = await services.read_log.stream_and_head(deal_id, known)
    state = deal_state_at(deal_id, stream, as_of=at, known_at=known)
    if state is None or position is None:
        raise _not_found(deal_id)
    body = {**state.to_json(), "as_of": iso(at), "known_at": iso(known), "position": position}
    # Serialized here (the model documents it): validating a dict built from a fold is waste.
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"X-Funnel-Position": str(position)},
    )


@router.get("/{deal_id}/events", response_model=DealEvents, summary="A deal's events")
async def get_deal_events(
    deal_id: DealId,
    services: ServicesDep,
    _key: ReaderKey,
    response: Response,
    known_at: KnownAt = None,
) -> dict[str, Any]:
    """The deal's events known at `known_at`, in `occurred_at` order, retracted ones marked."""
    known = known_at_or_now(services.settings, known_at)
    response.headers["X-Funnel-Position"] = str(await services.read_log.head())
    stream = await services.read_log.stream(deal_id, known) if is_deal(deal_id) else []
    if not stream:
        raise _not_found(deal_id)
    retracted_by = {
        (e.data["event_source"], e.data["event_id"]): {
            "source": e.source,
            "id": e.id,
            "position": e.position,
        }
        for e in stream
        if e.type == RETRACTION
    }
    events = [
        {
            "id": e.id,
            "source": e.source,
            "type": e.type,
            "subject": e.subject,
            "time": iso(e.occurred_at),
            "data": dict(e.data),
            "position": e.position,
            "stream_version": e.stream_version,
            "recorded_at": iso(e.recorded_at),
            "retracted": e.key in retracted_by,
            "retracted_by": retracted_by.get(e.key),
        }
        for e in sorted(stream, key=order_key)
    ]
    return {"deal_id": deal_id, "known_at": iso(known), "events": events}


@router.get("", response_model=DealPage, summary="List deals")
async def list_deals(
    services: ServicesDep,
    _key: ReaderKey,
    response: Response,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    stage: Annotated[StageName | None, Query(description="The stage at `as_of`.")] = None,
    owner: Annotated[str | None, Query(description="The owning rep at `as_of`.")] = None,
    team: Annotated[str | None, Query(description="The owner's team at `as_of`.")] = None,
    after: Annotated[str | None, Query(description="Cursor: the last deal id seen.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> dict[str, Any]:
    """Deals that exist at (`as_of`, `known_at`), filtered by stage, owner or team, by id."""
    settings = services.settings
    at, known = as_of_or_now(settings, as_of), known_at_or_now(settings, known_at)
    async with snapshot(services, min_position, consistency, replica=True) as snap:
        owners = None
        if team is not None:
            history = await team_history_known_at(snap.conn, known)
            owners = [rep for rep in history if team_at(history, rep, at) == team]
        where = DealFilter(stage=stage, owner_rep_id=owner, owners=owners)
        ids = await deal_ids(
            snap.conn, as_of=at, known_at=known, where=where, after=after, limit=limit
        )
        position = snap.position
    response.headers["X-Funnel-Position"] = str(position)
    streams: dict[str, list[RecordedEvent]] = {deal_id: [] for deal_id in ids}
    for event in await services.read_log.streams(ids, known) if ids else []:
        streams[event.subject].append(event)
    states = [deal_state_at(d, streams[d], as_of=at, known_at=known) for d in ids]
    return {
        "as_of": iso(at),
        "known_at": iso(known),
        "position": position,
        "deals": [state.to_json() for state in states if state is not None],
        "next_after": ids[-1] if len(ids) == limit else None,
    }

"""`/v1/deals`: a deal's state and events at any (`as_of`, `known_at`), and deal lists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Response

from service.api.deps import ServicesDep
from service.api.http.problems import Problem
from service.api.http.time_params import as_of_or_now, known_at_or_now
from service.api.schemas.reads import DealEvents, DealPage, DealResponse
from service.api.security.auth import ReaderKey
from service.application.consistent_reads import Consistency
from service.application.deals import DealQuery, deal_events, read_deal
from service.application.deals import list_deals as deal_page
from service.events.vocabulary import RETRACTION
from service.projections.knowledge import order_key
from service.store.chain.hashing import iso

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
    deal = await read_deal(services, deal_id, as_of=at, known_at=known)
    if deal is None:
        raise _not_found(deal_id)
    position = deal.position
    body = {**deal.state.to_json(), "as_of": iso(at), "known_at": iso(known), "position": position}
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
    stream, head = await deal_events(services, deal_id, known_at=known)
    response.headers["X-Funnel-Position"] = str(head)
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
    query = DealQuery(at, known, stage, owner, team, after, limit)
    page = await deal_page(services, query, min_position, consistency)
    position = page.position
    response.headers["X-Funnel-Position"] = str(position)
    return {
        "as_of": iso(at),
        "known_at": iso(known),
        "position": position,
        "deals": [state.to_json() for state in page.states],
        "next_after": page.ids[-1] if len(page.ids) == limit else None,
    }

"""`/v1/scoreboard` and `/v1/funnel`: the five numbers and the funnel, for any past date."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from service.api.deps import ServicesDep
from service.api.http.longest_span import bounded_period
from service.api.http.scoreboard_csv import scoreboard_csv
from service.api.http.tabular import BomParam
from service.api.http.time_params import as_of_or_now, known_at_or_now
from service.api.schemas.reads import FunnelModel, ScoreboardModel
from service.api.security.auth import ReaderKey
from service.application.consistent_reads import Consistency
from service.application.scoreboards import read_funnel, read_scoreboard
from service.projections.scoreboard import GroupBy
from service.store.chain.hashing import iso

router = APIRouter(prefix="/v1", tags=["scoreboard"])

MinPosition = Annotated[int | None, Query(ge=0, description="Wait until this is projected.")]
ConsistencyParam = Annotated[Consistency, Query(description="strong: wait for all acknowledged")]


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get(
    "/scoreboard",
    response_model=ScoreboardModel,
    summary="The five numbers",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_scoreboard(
    request: Request,
    services: ServicesDep,
    _key: ReaderKey,
    from_: Annotated[str | None, Query(alias="from", description="Start (a date: 00:00).")] = None,
    to: Annotated[str | None, Query(description="End, excluded (a date: 00:00).")] = None,
    period_: Annotated[
        str | None, Query(alias="period", description="2026-Q1, 2026-03, 2026-W10")
    ] = None,
    known_at: Annotated[str | None, Query(description="Transaction time; default now.")] = None,
    group_by: GroupBy = "rep",
    format_: Annotated[str | None, Query(alias="format", pattern="^(json|csv)$")] = None,
    bom: BomParam = False,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> Any:
    """The five numbers of [from, to) per rep, team or all, as known at `known_at`."""
    settings = services.settings
    start, end = bounded_period(settings, from_, to, period_)
    known = known_at_or_now(settings, known_at)
    read = await read_scoreboard(
        services,
        start=start,
        end=end,
        known_at=known,
        group_by=group_by,
        min_position=min_position,
        consistency=consistency,
    )
    board, position = read.answer, read.position
    headers = {"X-Funnel-Position": str(position)}
    if _wants_csv(request, format_):
        return Response(
            scoreboard_csv(board.to_json(), bom=bom),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )
    body = {
        **board.to_json(),
        "from": iso(start),
        "to": iso(end),
        "known_at": iso(known),
        "position": position,
    }
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


@router.get(
    "/scoreboard.csv",
    response_class=Response,
    summary="The five numbers as CSV",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_scoreboard_csv(
    request: Request,
    services: ServicesDep,
    key: ReaderKey,
    from_: Annotated[str | None, Query(alias="from", description="Start (a date: 00:00).")] = None,
    to: Annotated[str | None, Query(description="End, excluded (a date: 00:00).")] = None,
    period_: Annotated[
        str | None, Query(alias="period", description="2026-Q1, 2026-03, 2026-W10")
    ] = None,
    known_at: Annotated[str | None, Query(description="Transaction time; default now.")] = None,
    group_by: GroupBy = "rep",
    bom: BomParam = False,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> Any:
    """`GET /v1/scoreboard?format=csv` at a path of its own: a generated client types each
    operation's answer by its first media type, and this one's is CSV."""
    return await get_scoreboard(
        request,
        services,
        key,
        from_,
        to,
        period_,
        known_at,
        group_by,
        "csv",
        bom,
        min_position,
        consistency,
    )


@router.get("/funnel", response_model=FunnelModel, summary="Deals per stage")
async def get_funnel(
    services: ServicesDep,
    _key: ReaderKey,
    as_of: Annotated[
        str | None, Query(description="Valid time: a date (its end) or a date-time.")
    ] = None,
    known_at: Annotated[str | None, Query(description="Transaction time; default now.")] = None,
    rep_id: Annotated[str | None, Query(description="Only deals this rep owns at `as_of`.")] = None,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> Any:
    """Every deal counted by its stage at (`as_of`, `known_at`)."""
    settings = services.settings
    at, known = as_of_or_now(settings, as_of), known_at_or_now(settings, known_at)
    read = await read_funnel(
        services,
        as_of=at,
        known_at=known,
        rep_id=rep_id,
        min_position=min_position,
        consistency=consistency,
    )
    body = {
        "as_of": iso(at),
        "known_at": iso(known),
        "rep_id": rep_id,
        "stages": read.answer,
        "position": read.position,
    }
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"X-Funnel-Position": str(read.position)},
    )

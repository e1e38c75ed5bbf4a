"""`/v1/scoreboard/series`: the five numbers per day, week or month of a period, for trends."""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from service.api.deps import ServicesDep
from service.api.http.longest_span import bounded_period
from service.api.http.period_query import ConsistencyParam, MinPosition
from service.api.http.problems import Problem
from service.api.http.series_csv import series_csv
from service.api.http.tabular import BomParam
from service.api.http.time_params import known_at_or_now
from service.api.routes.scoreboard import _wants_csv
from service.api.schemas.reads import ScoreboardSeriesModel
from service.api.security.auth import ReaderKey
from service.application.scoreboards import read_series
from service.projections.intervals import Interval, sub_periods
from service.projections.scoreboard import GroupBy
from service.store.chain.hashing import iso

router = APIRouter(prefix="/v1", tags=["scoreboard"])

MAX_PERIODS = 400
"""The most sub-periods one series may have: each is a whole scoreboard."""


def _too_many(interval: str) -> Problem:
    detail = f"the period holds more than {MAX_PERIODS} sub-periods of a {interval}"
    return Problem(
        422,
        "too-many-periods",
        detail,
        title="Invalid request",
        errors=[{"pointer": "/query/interval", "detail": detail}],
        max_periods=MAX_PERIODS,
    )


@router.get(
    "/scoreboard/series",
    response_model=ScoreboardSeriesModel,
    summary="The five numbers per day, week or month",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_scoreboard_series(
    request: Request,
    services: ServicesDep,
    _key: ReaderKey,
    from_: Annotated[str | None, Query(alias="from", description="Start (a date: 00:00).")] = None,
    to: Annotated[str | None, Query(description="End, excluded (a date: 00:00).")] = None,
    period_: Annotated[
        str | None, Query(alias="period", description="2026-Q1, 2026-03, 2026-W10")
    ] = None,
    interval: Annotated[
        Interval, Query(description="Sub-periods: days, weeks (from Monday) or months.")
    ] = "week",
    known_at: Annotated[str | None, Query(description="Transaction time; default now.")] = None,
    group_by: GroupBy = "rep",
    format_: Annotated[str | None, Query(alias="format", pattern="^(json|csv)$")] = None,
    bom: BomParam = False,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> Any:
    """One scoreboard per sub-period of [from, to), all from one snapshot at `known_at`.

    Each equals `GET /v1/scoreboard` for its sub-period; the first and last may be partial.
    """
    settings = services.settings
    start, end = bounded_period(settings, from_, to, period_)
    known = known_at_or_now(settings, known_at)
    periods = list(islice(sub_periods(start, end, interval, settings.zone), MAX_PERIODS + 1))
    if len(periods) > MAX_PERIODS:
        raise _too_many(interval)
    read = await read_series(
        services,
        periods=periods,
        known_at=known,
        group_by=group_by,
        min_position=min_position,
        consistency=consistency,
    )
    boards: list[dict[str, Any]] = []
    for (first, after), board in zip(periods, read.answer, strict=True):
        numbers = board.to_json()
        rows, totals = numbers["rows"], numbers["totals"]
        boards.append(
            {
                "from": iso(first),
                "to": iso(after),
                "working_days": numbers["working_days"],
                "rows": rows,
                "totals": totals,
            }
        )
    headers = {"X-Funnel-Position": str(read.position)}
    if _wants_csv(request, format_):
        return Response(
            series_csv(boards, group_by=group_by, bom=bom),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )
    body = {
        "from": iso(start),
        "to": iso(end),
        "interval": interval,
        "group_by": group_by,
        "known_at": iso(known),
        "position": read.position,
        "periods": boards,
    }
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)

"""`/v1/analytics`: time in stage, cohort conversion, win rate and the pipeline waterfall.

Each answer folds every deal's stage path: pure CPU, run in a worker thread so that the event
loop goes on serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from service.api.auth import ReaderKey
from service.api.deps import ServicesDep
from service.api.window import WindowDep, WindowQuery
from service.application.consistent_reads import snapshot
from service.projections import analytics
from service.store import analytics_query
from service.store.chain import iso

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


class Answer(BaseModel):
    """The window an analytic answers for."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    as_of: str
    known_at: str
    position: int = Field(description="The newest log position this answer reflects.")


class StageTime(BaseModel):
    """Stays in one stage that ended in the window."""

    stays: int
    median_seconds: float | None
    p90_seconds: float | None


class StageTimes(Answer):
    """Time in each stage: stays that ended in the window, by stage."""

    stages: dict[str, StageTime]


class ConversionStep(BaseModel):
    """From one funnel stage to the next."""

    from_: str = Field(alias="from")
    to: str
    entered: int
    converted: int
    rate: float | None


class Conversion(Answer):
    """How far the leads sourced in the window got by `as_of`."""

    cohort: int
    reached: dict[str, int]
    steps: list[ConversionStep]
    outcome: dict[str, int]


class WinRate(Answer):
    """Deals closed in the window and won ÷ (won + lost)."""

    won: int
    lost: int
    disqualified: int
    win_rate: float | None


class Waterfall(Answer):
    """Open deals just before `from`, their movements, and open deals at the window's end."""

    start_open: int
    new: int
    advanced: int
    moved_back: int
    still_open: int
    won: int
    lost: int
    disqualified: int
    reopened: int
    new_by_stage: dict[str, int]
    end_open: int


def _answer(query: WindowQuery, position: int, result: Mapping[str, Any]) -> Response:
    window = query.window
    body = {
        "from": iso(window.start),
        "to": iso(window.end),
        "as_of": iso(window.as_of),
        "known_at": iso(query.known_at),
        "position": position,
        **result,
    }
    headers = {"X-Funnel-Position": str(position)}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


async def _paths(
    services: ServicesDep, query: WindowQuery
) -> tuple[dict[str, analytics.StagePath], int]:
    async with snapshot(services, query.min_position, query.consistency) as snap:
        paths = await analytics_query.stage_paths(
            snap.conn, as_of=query.window.as_of, known_at=query.known_at
        )
        return paths, snap.position


@router.get("/stage-times", response_model=StageTimes, summary="Time in each stage")
async def stage_times(services: ServicesDep, _key: ReaderKey, query: WindowDep) -> Response:
    """Median and p90 time deals spent in each stage, over the stays that ended in the window."""
    paths, position = await _paths(services, query)
    stages = await asyncio.to_thread(analytics.time_in_stage, paths, query.window)
    return _answer(query, position, {"stages": stages})


@router.get("/conversion", response_model=Conversion, summary="Cohort conversion")
async def conversion(services: ServicesDep, _key: ReaderKey, query: WindowDep) -> Response:
    """For the leads sourced in the window: how many reached each next stage by `as_of`."""
    async with snapshot(services, query.min_position, query.consistency) as snap:
        paths = await analytics_query.stage_paths(
            snap.conn, as_of=query.window.as_of, known_at=query.known_at
        )
        cohort = await analytics_query.sourced_cohort(snap.conn, query.window, query.known_at)
        position = snap.position
    return _answer(query, position, await asyncio.to_thread(analytics.conversion, paths, cohort))


@router.get("/win-rate", response_model=WinRate, summary="Win rate")
async def win_rate(services: ServicesDep, _key: ReaderKey, query: WindowDep) -> Response:
    """Deals won, lost and disqualified in the window, and won ÷ (won + lost)."""
    paths, position = await _paths(services, query)
    return _answer(
        query, position, await asyncio.to_thread(analytics.win_rate, paths, query.window)
    )


@router.get("/waterfall", response_model=Waterfall, summary="Pipeline waterfall")
async def waterfall(services: ServicesDep, _key: ReaderKey, query: WindowDep) -> Response:
    """How the open pipeline just before `from` became the one at the end of the window."""
    paths, position = await _paths(services, query)
    return _answer(
        query, position, await asyncio.to_thread(analytics.waterfall, paths, query.window)
    )

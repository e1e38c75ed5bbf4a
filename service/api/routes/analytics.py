"""`/v1/analytics`: time in stage, cohort conversion, win rate and the pipeline waterfall.

Each answer folds every deal's stage path (`application.analytics`): pure CPU, run in a worker
thread so that the event loop goes on serving other requests meanwhile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from service.api.deps import ServicesDep
from service.api.http.period_query import WindowDep
from service.api.security.auth import ReaderKey
from service.application import analytics
from service.application.analytics import WindowQuery
from service.application.consistent_reads import Read
from service.projections.analytics import DealScope
from service.store.chain.hashing import iso

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


class Answer(BaseModel):
    """The window an analytic answers for."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str
    as_of: str
    known_at: str
    rep_id: str | None = Field(
        default=None, description="The rep filter asked for (null: every rep)."
    )
    team_id: str | None = Field(
        default=None, description="The team filter asked for (null: every team)."
    )
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


RepFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        description="Only the deals this rep owns at `as_of` (as known at `known_at`).",
    ),
]
TeamFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        description="Only the deals whose owner at `as_of` is then in this team.",
    ),
]


def scoped_window(
    query: WindowDep, rep_id: RepFilter = None, team_id: TeamFilter = None
) -> WindowQuery:
    """The request's window, narrowed to a rep's or team's deals when asked (docs/analytics.md)."""
    return dataclasses.replace(query, scope=DealScope(rep_id, team_id))


ScopedWindow = Annotated[WindowQuery, Depends(scoped_window)]


def _answer(query: WindowQuery, read: Read[Mapping[str, Any]]) -> Response:
    window = query.window
    body = {
        "from": iso(window.start),
        "to": iso(window.end),
        "as_of": iso(window.as_of),
        "known_at": iso(query.known_at),
        "rep_id": query.scope.rep_id,
        "team_id": query.scope.team_id,
        "position": read.position,
        **read.answer,
    }
    headers = {"X-Funnel-Position": str(read.position)}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


@router.get("/stage-times", response_model=StageTimes, summary="Time in each stage")
async def stage_times(services: ServicesDep, _key: ReaderKey, query: ScopedWindow) -> Response:
    """Median and p90 time deals spent in each stage, over the stays that ended in the window."""
    return _answer(query, await analytics.stage_times(services, query))


@router.get("/conversion", response_model=Conversion, summary="Cohort conversion")
async def conversion(services: ServicesDep, _key: ReaderKey, query: ScopedWindow) -> Response:
    """For the leads sourced in the window: how many reached each next stage by `as_of`."""
    return _answer(query, await analytics.conversion(services, query))


@router.get("/win-rate", response_model=WinRate, summary="Win rate")
async def win_rate(services: ServicesDep, _key: ReaderKey, query: ScopedWindow) -> Response:
    """Deals won, lost and disqualified in the window, and won ÷ (won + lost)."""
    return _answer(query, await analytics.win_rate(services, query))


@router.get("/waterfall", response_model=Waterfall, summary="Pipeline waterfall")
async def waterfall(services: ServicesDep, _key: ReaderKey, query: ScopedWindow) -> Response:
    """How the open pipeline just before `from` became the one at the end of the window."""
    return _answer(query, await analytics.waterfall(services, query))

"""Analytics at a snapshot: time in stage, cohort conversion, win rate and the pipeline
waterfall, each folded from every deal's stage path in a worker thread (pure CPU)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.application.consistent_reads import Consistency, Read, snapshot
from service.application.services import Services
from service.projections import analytics
from service.projections.analytics import EVERY_DEAL, DealScope, StagePath, Window, deals_in_scope
from service.store.queries import analytics as analytics_query
from service.store.queries.teams import team_history_known_at


@dataclass(frozen=True, slots=True)
class WindowQuery:
    """A period [from, to) seen from (`as_of`, `known_at`), with the read's consistency."""

    window: Window
    known_at: datetime
    min_position: int | None = None
    consistency: Consistency = "strong"
    scope: DealScope = EVERY_DEAL
    """Only the deals of a rep or team (by owner at `as_of`); by default every deal."""


async def _scoped_paths(conn: AsyncConnection, query: WindowQuery) -> dict[str, StagePath]:
    """The stage paths of the deals in the query's scope, at (`as_of`, `known_at`)."""
    as_of, known_at = query.window.as_of, query.known_at
    if query.scope.everyone:
        return await analytics_query.stage_paths(conn, as_of=as_of, known_at=known_at)
    paths, owners = await analytics_query.paths_and_owners(conn, as_of=as_of, known_at=known_at)
    teams = await team_history_known_at(conn, known_at)
    kept = deals_in_scope(owners, teams, query.scope, as_of)
    return {deal: path for deal, path in paths.items() if deal in kept}


async def _paths(services: Services, query: WindowQuery) -> Read[dict[str, StagePath]]:
    async with snapshot(services, query.min_position, query.consistency) as snap:
        return Read(await _scoped_paths(snap.conn, query), snap.position)


async def _over_window(
    services: Services,
    query: WindowQuery,
    fold: Callable[[Mapping[str, StagePath], Window], Mapping[str, Any]],
) -> Read[Mapping[str, Any]]:
    paths = await _paths(services, query)
    result = await asyncio.to_thread(fold, paths.answer, query.window)
    return Read(result, paths.position)


async def stage_times(services: Services, query: WindowQuery) -> Read[Mapping[str, Any]]:
    """Median and p90 time in each stage, over the stays that ended in the window."""
    paths = await _paths(services, query)
    stages = await asyncio.to_thread(analytics.time_in_stage, paths.answer, query.window)
    return Read({"stages": stages}, paths.position)


async def conversion(services: Services, query: WindowQuery) -> Read[Mapping[str, Any]]:
    """For the leads sourced in the window: how many reached each next stage by `as_of`."""
    async with snapshot(services, query.min_position, query.consistency) as snap:
        paths = await _scoped_paths(snap.conn, query)
        cohort = await analytics_query.sourced_cohort(snap.conn, query.window, query.known_at)
        position = snap.position
    if not query.scope.everyone:
        # A deal of the scope has a stage path, at least the stage-less start of its timeline.
        cohort &= paths.keys()
    return Read(await asyncio.to_thread(analytics.conversion, paths, cohort), position)


async def win_rate(services: Services, query: WindowQuery) -> Read[Mapping[str, Any]]:
    """Deals won, lost and disqualified in the window, and won ÷ (won + lost)."""
    return await _over_window(services, query, analytics.win_rate)


async def waterfall(services: Services, query: WindowQuery) -> Read[Mapping[str, Any]]:
    """How the open pipeline just before `from` became the one at the end of the window."""
    return await _over_window(services, query, analytics.waterfall)

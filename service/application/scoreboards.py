"""Reading the five numbers and the funnel at a snapshot: what `/v1/scoreboard`, `/v1/funnel`
and the dashboard answer, from the same code."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.application.board_cache import BoardCache, cache_key
from service.application.consistent_reads import Consistency, Read, Snapshot, snapshot
from service.application.services import Services
from service.projections.attainment import with_targets
from service.projections.profiles import with_profiles
from service.projections.scoreboard import GroupBy, Scoreboard
from service.projections.workdays import MONDAY_TO_FRIDAY
from service.store.mirror import reads as mirrored_reads
from service.store.mirror.read_mirror import ReadMirror
from service.store.queries.imported_history import imported_after
from service.store.queries.plans import plan_known_at
from service.store.queries.profiles import profile_history_known_at
from service.store.queries.teams import team_history_known_at


async def recorded_at_position(conn: AsyncConnection, position: int) -> datetime | None:
    """The `recorded_at` of the event at `position` (None: no such event)."""
    result = await conn.execute(
        text("SELECT recorded_at FROM events WHERE position = :position"), {"position": position}
    )
    recorded_at: datetime | None = result.scalar_one_or_none()
    return recorded_at


async def scoreboard_with_targets(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    zone: ZoneInfo,
    position: int,
    workweek: frozenset[int] = MONDAY_TO_FRIDAY,
    complete: bool = False,
    cache: BoardCache | None = None,
    mirror: ReadMirror | None = None,
) -> Scoreboard:
    """The five numbers with targets and attainment, from the read models (or the cache).

    With `mirror`, the read models are read from its in-memory copy of this snapshot's.
    """
    newest = await recorded_at_position(conn, position)
    key = cache_key(start, end, known_at, group_by, position, newest, complete)
    cached = cache.get(key) if cache is not None else None
    if cached is not None:
        return cached
    teams = await team_history_known_at(conn, known_at)
    board = await mirrored_reads.scoreboard(
        conn,
        mirror,
        position,
        start=start,
        end=end,
        known_at=known_at,
        group_by=group_by,
        history=teams,
    )
    known_plan = await plan_known_at(conn, known_at)
    # Off the event loop: a board of many rows with targets is pure CPU.
    board = await asyncio.to_thread(with_targets, board, known_plan, teams, zone, workweek)
    if group_by == "rep":
        board = with_profiles(board, await profile_history_known_at(conn, known_at))
    if cache is not None:
        cache.put(key, board)
    return board


async def _board(
    services: Services,
    snap: Snapshot,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
) -> Scoreboard:
    """`scoreboard_with_targets` in `snap`, with the service's zone, cache and in-memory copy."""
    return await scoreboard_with_targets(
        snap.conn,
        start=start,
        end=end,
        known_at=known_at,
        group_by=group_by,
        zone=services.settings.zone,
        workweek=services.settings.workweek_days,
        position=snap.position,
        complete=snap.complete,
        cache=services.boards,
        mirror=services.mirror,
    )


async def read_scoreboard(
    services: Services,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> Read[Scoreboard]:
    """The five numbers of [start, end) with targets, as known at `known_at`, on the replica."""
    async with snapshot(services, min_position, consistency, replica=True) as snap:
        board = await _board(services, snap, start, end, known_at, group_by)
    return Read(board, snap.position)


async def read_series(
    services: Services,
    *,
    periods: Sequence[tuple[datetime, datetime]],
    known_at: datetime,
    group_by: GroupBy,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> Read[list[Scoreboard]]:
    """One scoreboard per period, all as known at `known_at` from one snapshot (on the replica).

    Each is the one `read_scoreboard` gives for that period in the same snapshot.
    """
    async with snapshot(services, min_position, consistency, replica=True) as snap:
        boards = [
            await _board(services, snap, first, after, known_at, group_by)
            for first, after in periods
        ]
    return Read(boards, snap.position)


async def read_funnel(
    services: Services,
    *,
    as_of: datetime,
    known_at: datetime,
    rep_id: str | None = None,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> Read[dict[str, int]]:
    """Every deal counted by its stage at (`as_of`, `known_at`), on the replica."""
    async with snapshot(services, min_position, consistency, replica=True) as snap:
        stages = await mirrored_reads.funnel(
            snap.conn, services.mirror, snap.position, as_of=as_of, known_at=known_at, rep_id=rep_id
        )
    return Read(stages, snap.position)


@dataclass(frozen=True, slots=True)
class BoardAndFunnel:
    """A scoreboard (with targets) and the funnel, read from one snapshot."""

    scoreboard: Scoreboard
    stages: dict[str, int]
    position: int
    imported_at: datetime | None = None
    """When history of the period that `known_at` does not see yet was imported (the newest
    such import); None when every imported event of the period was known by `known_at`."""


async def read_board_and_funnel(
    services: Services,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    known_at: datetime,
    group_by: GroupBy,
) -> BoardAndFunnel:
    """The scoreboard of [start, end) and the funnel at `as_of`, both as known at `known_at`,
    from one snapshot of the read models (the dashboard's view), and when history of the
    period that `known_at` does not see was imported."""
    async with snapshot(services, replica=True) as snap:
        board = await _board(services, snap, start, end, known_at, group_by)
        stages = await mirrored_reads.funnel(
            snap.conn, services.mirror, snap.position, as_of=as_of, known_at=known_at, rep_id=None
        )
        imported = await _imported_after(snap, start, end, known_at)
    return BoardAndFunnel(board, stages, snap.position, imported)


async def _imported_after(
    snap: Snapshot, start: datetime, end: datetime, known_at: datetime
) -> datetime | None:
    """`imported_after` in `snap`, asked only when some event was recorded after `known_at`
    (never for a view as known now)."""
    newest = await recorded_at_position(snap.conn, snap.position)
    if newest is None or newest <= known_at:
        return None
    return await imported_after(snap.conn, start=start, end=end, known_at=known_at)

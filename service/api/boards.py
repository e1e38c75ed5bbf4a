"""The scoreboard with targets, as both `/v1/scoreboard` and the dashboard serve it, cached.

An answer depends only on its parameters and on the events it may see. With `known_at` well
in the past, no event can still join those (every append commits within seconds of its
`recorded_at`), so the answer is final and kept by its parameters alone; otherwise it is kept
with the log position the read models reflected, and a new event makes a new key. Every recent
`known_at` from the newest reflected event's `recorded_at` on sees the same events (it answers
as "now"); an earlier one sees fewer, so it is kept under its own `known_at`.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.projections.attainment import with_targets
from service.projections.profiles import with_profiles
from service.projections.scoreboard import GroupBy, Scoreboard
from service.store import mirrored_reads
from service.store.plan_query import plan_known_at
from service.store.profiles_query import profile_history_known_at
from service.store.read_mirror import ReadMirror
from service.store.teams_query import team_history_known_at

FINAL_AFTER = timedelta(minutes=5)
"""How far in the past `known_at` must lie for an answer to be final."""

CacheKey = tuple[datetime, datetime, datetime | None, GroupBy, int | None]


class BoardCache:
    """A bounded least-recently-used map of computed scoreboards."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._boards: OrderedDict[CacheKey, Scoreboard] = OrderedDict()

    def get(self, key: CacheKey) -> Scoreboard | None:
        """A cached board, refreshed as recently used."""
        board = self._boards.get(key)
        if board is not None:
            self._boards.move_to_end(key)
        return board

    def put(self, key: CacheKey, board: Scoreboard) -> None:
        """Keep a board, forgetting the least recently used beyond the size."""
        self._boards[key] = board
        self._boards.move_to_end(key)
        while len(self._boards) > self._size:
            self._boards.popitem(last=False)


def cache_key(
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    position: int,
    newest_recorded_at: datetime | None,
    complete: bool,
) -> CacheKey:
    """The key an answer is kept under: final answers without the position.

    `newest_recorded_at` is the `recorded_at` of the event at `position` (None: no event).
    Final only when the read models reflected every acknowledged event (`complete`): a
    lagging read model or replica must not have its partial answer kept for good.
    """
    if complete and known_at < datetime.now(UTC) - FINAL_AFTER:
        return (start, end, known_at, group_by, None)
    # Not final: valid for this position only. From the newest event's recorded_at on, every
    # known_at sees all of the reflected events, so "now" shares one key; before it, it does not.
    if newest_recorded_at is None or known_at >= newest_recorded_at:
        return (start, end, None, group_by, position)
    return (start, end, known_at, group_by, position)


async def _recorded_at(conn: AsyncConnection, position: int) -> datetime | None:
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
    complete: bool = False,
    cache: BoardCache | None = None,
    mirror: ReadMirror | None = None,
) -> Scoreboard:
    """The five numbers with targets and attainment, from the read models (or the cache).

    With `mirror`, the read models are read from its in-memory copy of this snapshot's.
    """
    newest = await _recorded_at(conn, position)
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
    board = await asyncio.to_thread(with_targets, board, known_plan, teams, zone)
    if group_by == "rep":
        board = with_profiles(board, await profile_history_known_at(conn, known_at))
    if cache is not None:
        cache.put(key, board)
    return board

"""Scoreboards already computed, kept by the parameters and the events they depend on.

An answer depends only on its parameters and on the events it may see. With `known_at` well
in the past, no event can still join those (every append commits within seconds of its
`recorded_at`), so the answer is final and kept by its parameters alone; otherwise it is kept
with the log position the read models reflected, and a new event makes a new key. Every recent
`known_at` from the newest reflected event's `recorded_at` on sees the same events (it answers
as "now"); an earlier one sees fewer, so it is kept under its own `known_at`.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from service.projections.scoreboard import GroupBy, Scoreboard

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

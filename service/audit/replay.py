"""Audit replay: a period's scoreboard recomputed from the raw events, checked against read models.

The recomputation reads only the `events` table (`period_events`) and folds it with the same
pure fold as `compute_scoreboard` (`ScoreboardFold`), which every other answer is proven equal
to, a few streams at a time: a replay's memory does not grow with the log. The streams settled
before the period (`settled_before`: provably adding nothing to it) are left in the server,
unread and unfolded; the digest covers every event considered all the same. The read models
are read only afterwards, to compare.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit.compare import Difference, differences
from service.audit.progress import Advance, ProgressBar, no_progress
from service.events.instants import as_stored
from service.events.recorded import RecordedEvent
from service.events.upcasting import recorded_event
from service.projections.scoreboard import Scoreboard, ScoreboardFold
from service.store.log.period_events import (
    EventRow,
    head_position,
    last_known_position,
    period_digest,
    period_streams,
)
from service.store.queries import scoreboard as scoreboard_query

FOLD_EVENTS = 20_000
"""Events folded at a time, in whole streams: a replay holds about this many, not the period."""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The replayed scoreboard, what it was computed from, and how the read models compare."""

    board: Scoreboard
    events_considered: int
    events_folded: int
    """The events of the streams not settled before the period: the others add nothing."""
    retractions: int
    digest: str
    read_models_position: int
    projection: Scoreboard | None
    differences: tuple[Difference, ...]

    @property
    def projection_matches(self) -> bool | None:
        """Whether the read models give the same answer; None when they lag behind `known_at`."""
        return None if self.projection is None else not self.differences


def _event(row: EventRow) -> RecordedEvent:
    return recorded_event(
        position=row["position"],
        subject=row["subject"],
        stream_version=row["stream_version"],
        source=row["source"],
        id=row["event_id"],
        type=row["type"],
        occurred_at=as_stored(row["occurred_at"]),  # a retraction's may be `-infinity`
        recorded_at=row["recorded_at"],
        data=orjson.loads(row["data"]),
        metadata={},
        schema_version=row["schema_version"],
    )


def _cut(rows: list[EventRow]) -> int:
    """Where the last stream of `rows` begins (0 when they are all one stream)."""
    last = rows[-1]["subject"]
    index = len(rows) - 1
    while index > 0 and rows[index - 1]["subject"] == last:
        index -= 1
    return index


async def _whole_streams(
    conn: AsyncConnection, *, start: datetime, end: datetime, known_at: datetime, size: int
) -> AsyncIterator[list[EventRow]]:
    """The events of the period's streams not settled before it, in batches of about `size`,
    no stream split between two batches."""
    pending: list[EventRow] = []
    streams = period_streams(conn, end=end, known_at=known_at, settled_before=start)
    async for rows in streams:
        pending.extend(rows)
        if len(pending) >= size and (cut := _cut(pending)):
            yield pending[:cut]
            pending = pending[cut:]
    if pending:
        yield pending


def _fold_rows(board: ScoreboardFold, rows: list[EventRow]) -> None:
    board.add([_event(row) for row in rows])


async def _fold_streams(
    conn: AsyncConnection,
    board: ScoreboardFold,
    *,
    period: tuple[datetime, datetime],
    known_at: datetime,
    size: int,
    advance: Advance | None,
) -> int:
    """Fold the streams `board`'s period needs, each batch off the event loop while the next
    is read; how many events were folded. No fold is left running when this returns or
    raises."""
    folded = 0
    folding: asyncio.Future[None] | None = None
    start, end = period
    batches = _whole_streams(conn, start=start, end=end, known_at=known_at, size=size)
    try:
        async for rows in batches:
            if folding is not None:
                await folding
            folding = asyncio.ensure_future(asyncio.to_thread(_fold_rows, board, rows))
            folded += len(rows)
            if advance is not None:
                advance(folded)
    finally:
        if folding is not None:
            await asyncio.gather(folding, return_exceptions=True)
    if folding is not None:
        await folding  # its own failure, if any, now that nothing else failed
    return folded


async def replay(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    read_models_position: int,
    progress: ProgressBar = no_progress,
    fold_events: int | None = None,
) -> ReplayReport:
    """Replay [start, end) as known at `known_at` inside `conn`'s snapshot, by rep and in total.

    Two passes over the period's events: their digest in log order (no data read), then the
    fold stream by stream (less those settled before `start`), `fold_events` (default
    `FOLD_EVENTS`) at a time, each batch folded off the event loop while the next is read.
    `read_models_position` is the read models' checkpoint in the same snapshot: they are
    compared only when it covers every event recorded by `known_at`.
    """
    with progress(await head_position(conn)) as advance:
        digest, retractions = await period_digest(
            conn, end=end, known_at=known_at, on_progress=advance
        )
    board = ScoreboardFold(start=start, end=end, known_at=known_at, group_by="rep")
    with progress(digest.count) as advance:
        folded = await _fold_streams(
            conn,
            board,
            period=(start, end),
            known_at=known_at,
            size=fold_events or FOLD_EVENTS,
            advance=advance,
        )
        if advance is not None:
            advance(digest.count)  # the settled streams' events are counted, never read
    projection: Scoreboard | None = None
    if read_models_position >= await last_known_position(conn, known_at):
        projection = await scoreboard_query.scoreboard(
            conn, start=start, end=end, known_at=known_at, group_by="rep"
        )
    result = board.scoreboard()
    return ReplayReport(
        board=result,
        events_considered=digest.count,
        events_folded=folded,
        retractions=retractions,
        digest=digest.hexdigest(),
        read_models_position=read_models_position,
        projection=projection,
        differences=() if projection is None else differences(result, projection),
    )

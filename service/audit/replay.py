"""Audit replay: a period's scoreboard recomputed from the raw events, checked against read models.

The recomputation reads only the `events` table (`period_events`) and folds it with the same
pure `compute_scoreboard` that every other answer is proven equal to; the read models are read
only afterwards, to compare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit.compare import Difference, differences
from service.events.instants import as_stored
from service.events.recorded import RecordedEvent
from service.events.upcasting import recorded_event
from service.events.vocabulary import RETRACTION
from service.projections.scoreboard import Scoreboard, compute_scoreboard
from service.store.log.period_events import Digest, EventRow, last_known_position, period_rows
from service.store.queries import scoreboard as scoreboard_query

Progress = Callable[[int], None]
"""Called with the log position the walk has reached."""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The replayed scoreboard, what it was computed from, and how the read models compare."""

    board: Scoreboard
    events_considered: int
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


async def considered_events(
    conn: AsyncConnection,
    *,
    end: datetime,
    known_at: datetime,
    on_progress: Progress | None = None,
) -> tuple[list[RecordedEvent], Digest]:
    """The events that decide the period (see `period_events`), and their digest."""
    events: list[RecordedEvent] = []
    digest = Digest()
    async for rows in period_rows(conn, end=end, known_at=known_at):
        for row in rows:
            events.append(_event(row))
            digest.add(row["hash"])
        if on_progress is not None:
            on_progress(rows[-1]["position"])
    return events, digest


async def replay(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    read_models_position: int,
    on_progress: Progress | None = None,
) -> ReplayReport:
    """Replay [start, end) as known at `known_at` inside `conn`'s snapshot, by rep and in total.

    `read_models_position` is the read models' checkpoint in the same snapshot: they are
    compared only when it covers every event recorded by `known_at`.
    """
    events, digest = await considered_events(
        conn, end=end, known_at=known_at, on_progress=on_progress
    )
    # Seconds of CPU for a big quarter: off the event loop, so the service keeps answering.
    board = await asyncio.to_thread(
        compute_scoreboard, events, start=start, end=end, known_at=known_at, group_by="rep"
    )
    projection: Scoreboard | None = None
    if read_models_position >= await last_known_position(conn, known_at):
        projection = await scoreboard_query.scoreboard(
            conn, start=start, end=end, known_at=known_at, group_by="rep"
        )
    return ReplayReport(
        board=board,
        events_considered=digest.count,
        retractions=sum(1 for event in events if event.type == RETRACTION),
        digest=digest.hexdigest(),
        read_models_position=read_models_position,
        projection=projection,
        differences=() if projection is None else differences(board, projection),
    )

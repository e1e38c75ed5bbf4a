"""The events this process appended last, handed to its projector so it need not read them back.

The appender commits positions in order with no gaps (docs/ordering.md), so the rows it has just
committed are exactly the log's rows at those positions: a projector that finds the positions it
needs here reads nothing from the database for them. What it does not find (appended by another
process, or dropped beyond the bound) it reads from the log as before. Rows are handed over only
once committed, so every statement the projector runs afterwards (read committed) sees them in
the log too: a retraction's target, say, among the same handed events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from service.events.recorded import RecordedEvent
from service.events.upcasting import recorded_event
from service.store.log.append_plan import NewRow
from service.store.log.event_rows import Batch


class RecentEvents:
    """A contiguous run of the log's newest events as this process appended them.

    Filled only while `wanted` (set by the projector while it leads here), and holding at most
    `max_events`: the oldest go first, and a gap (another process appended in between) starts
    the run anew.
    """

    def __init__(self, max_events: int) -> None:
        self._max_events = max_events
        self._events: list[RecordedEvent] = []
        self.wanted = False

    def __len__(self) -> int:
        return len(self._events)

    def appended(self, rows: Sequence[NewRow], recorded_at: datetime) -> None:
        """The rows one append transaction has just committed, all at `recorded_at`."""
        events = self._events
        if not self.wanted:
            events.clear()
            return
        if events and rows and events[-1].position + 1 != rows[0].position:
            events.clear()
        loads = orjson.loads
        for row in rows:
            event = row.prepared.event
            time = event.time if event.time.tzinfo is UTC else event.time.astimezone(UTC)
            events.append(
                recorded_event(
                    row.position,
                    event.subject,
                    row.stream_version,
                    event.source,
                    event.id,
                    event.type,
                    time,
                    recorded_at,
                    loads(row.prepared.data),
                    {},
                    row.prepared.schema_version,
                )
            )
        if len(events) > self._max_events:
            del events[: len(events) - self._max_events]

    def batch(self, after: int, limit: int, through: int | None = None) -> Batch | None:
        """The events after position `after` (at most `limit`, none past `through`), as a read
        of the log would give them; None unless the run holds the position right after."""
        events = self._events
        if not events or not events[0].position <= after + 1 <= events[-1].position:
            return None
        start = after + 1 - events[0].position
        del events[:start]  # `after` is projected: nothing before it is asked again
        end = min(limit, len(events))
        if through is not None:
            end = min(end, max(through - after, 0))
        if end == 0:
            return None
        part = events[:end]
        return Batch(part, len(part), part[-1].position)

    def clear(self) -> None:
        """Forget every event held."""
        self._events.clear()

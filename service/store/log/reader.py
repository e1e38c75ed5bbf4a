"""The read path of the log: the global feed, one stream, and the head position.

The feed gives every stored row as it is. Streams, read for folding, leave out events whose
`occurred_at` lies out of range, as `service.store.log.event_rows.foldable` says: no fold sees one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.instants import as_stored
from service.events.recorded import RecordedEvent
from service.events.upcasting import recorded_event
from service.store.log.event_rows import foldable

_COLUMNS = (
    "position, subject, stream_version, source, event_id, type, occurred_at, recorded_at, "
    "data, metadata, schema_version, hash"
)
_FEED = text(
    f"SELECT {_COLUMNS} FROM events WHERE position > :after ORDER BY position LIMIT :limit"
)
_STREAM = text(
    f"SELECT {_COLUMNS} FROM events WHERE subject = :subject "
    "AND (CAST(:known_at AS timestamptz) IS NULL OR recorded_at <= :known_at) ORDER BY position"
)
_STREAMS = text(
    f"SELECT {_COLUMNS} FROM events WHERE subject = ANY(CAST(:subjects AS text[])) "
    "AND (CAST(:known_at AS timestamptz) IS NULL OR recorded_at <= :known_at) ORDER BY position"
)
_HEAD = text("SELECT COALESCE(max(position), 0) FROM events")
# One round trip for a deal read: the stream as known at `known_at` and the log's head, both
# from the statement's one snapshot (no hashes: a fold does not need them).
_STREAM_AND_HEAD = text(
    "SELECT position, subject, stream_version, source, event_id, type, occurred_at, "
    "recorded_at, data, metadata, schema_version, "
    "(SELECT COALESCE(max(position), 0) FROM events) AS head "
    "FROM events WHERE subject = :subject AND recorded_at <= :known_at ORDER BY position"
)


def to_recorded(row: Row[Any]) -> RecordedEvent:
    """A database row of the events table as a `RecordedEvent`."""
    return recorded_event(
        position=row.position,
        subject=row.subject,
        stream_version=row.stream_version,
        source=row.source,
        id=row.event_id,
        type=row.type,
        occurred_at=as_stored(row.occurred_at),
        recorded_at=row.recorded_at,
        data=row.data,
        metadata=row.metadata,
        schema_version=row.schema_version,
    )


def _foldable(rows: Sequence[Row[Any]]) -> list[RecordedEvent]:
    return [to_recorded(row) for row in rows if foldable(row.occurred_at, row.type)]


class EventReader:
    """Reads the log; never writes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def head(self) -> int:
        """The position of the newest committed event (0 for an empty log)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(_HEAD)).scalar_one())

    async def feed(self, after: int, limit: int) -> list[Row[Any]]:
        """Up to `limit` events after `after`, in position order, as raw rows (with hashes)."""
        async with self._engine.connect() as conn:
            return list(await conn.execute(_FEED, {"after": after, "limit": limit}))

    async def stream(self, subject: str, known_at: datetime | None = None) -> list[RecordedEvent]:
        """Every event of one subject recorded by `known_at` (all when None), in position order."""
        async with self._engine.connect() as conn:
            result = await conn.execute(_STREAM, {"subject": subject, "known_at": known_at})
            return _foldable(list(result))

    async def stream_and_head(
        self, subject: str, known_at: datetime
    ) -> tuple[list[RecordedEvent], int | None]:
        """One subject's events recorded by `known_at` and the head position, in one statement.

        The head is None when the stream has no such event (the caller answers 404 then). One
        autocommit statement: no BEGIN or ROLLBACK round trips around it.
        """
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            result = await conn.execute(
                _STREAM_AND_HEAD, {"subject": subject, "known_at": known_at}
            )
            rows = list(result)
        events = _foldable(rows)
        return events, (int(rows[0].head) if events else None)

    async def streams(
        self, subjects: Sequence[str], known_at: datetime | None = None
    ) -> list[RecordedEvent]:
        """Every event of several subjects recorded by `known_at`, in position order."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _STREAMS, {"subjects": list(subjects), "known_at": known_at}
            )
            return _foldable(list(result))

    async def iterate(
        self, after: int = 0, chunk: int = 10_000, conn: AsyncConnection | None = None
    ) -> AsyncIterator[RecordedEvent]:
        """Every event after `after` in position order (but those out of range), read in chunks
        (memory stays flat)."""
        while True:
            if conn is None:
                rows = await self.feed(after, chunk)
            else:
                rows = list(await conn.execute(_FEED, {"after": after, "limit": chunk}))
            for event in _foldable(rows):
                yield event
            if len(rows) < chunk:
                return
            after = rows[-1].position

"""Reading events through the asyncpg driver itself, for the projector and the rebuild.

SQLAlchemy's row processing and attribute access cost more than the fold that follows them;
these reads select `data` as JSON text, parse it with orjson and build each `RecordedEvent`
from the record by position. `metadata` is left out: no read model depends on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.recorded import RecordedEvent
from service.events.upcasting import recorded_event

FOLD_COLUMNS = (
    "position, subject, stream_version, source, event_id, type, occurred_at, recorded_at, "
    "data::text AS data, schema_version"
)
"""The columns `recorded` expects, in its order."""

_BEGIN = text("SELECT 1")


def recorded(row: Sequence[Any]) -> RecordedEvent:
    """A record of `FOLD_COLUMNS` as a `RecordedEvent` (its `metadata` left empty)."""
    position, subject, version, source, event_id, kind, occurred, recorded_at, data, schema = row
    return recorded_event(
        position,
        subject,
        version,
        source,
        event_id,
        kind,
        occurred,
        recorded_at,
        orjson.loads(data),
        {},
        schema,
    )


def recorded_all(rows: Sequence[Sequence[Any]]) -> list[RecordedEvent]:
    """Every record of `FOLD_COLUMNS` as a `RecordedEvent`, in order."""
    loads = orjson.loads
    return [
        recorded_event(p, s, v, src, i, t, o, r, loads(d), {}, sv)
        for p, s, v, src, i, t, o, r, d, sv in rows
    ]


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, inside `conn`'s transaction if it has begun one."""
    raw = await conn.get_raw_connection()
    connection: Any = raw.driver_connection
    if conn.in_transaction() and not connection.is_in_transaction():
        await conn.execute(_BEGIN)  # SQLAlchemy starts the driver's transaction lazily
    return connection


async def fetch_events(conn: AsyncConnection, query: str, *args: object) -> list[RecordedEvent]:
    """The events a query over `FOLD_COLUMNS` selects, in its order, in `conn`'s transaction."""
    connection = await driver(conn)
    return recorded_all(await connection.fetch(query, *args))


def streams_of(events: Sequence[RecordedEvent]) -> Iterator[tuple[str, Sequence[RecordedEvent]]]:
    """Consecutive runs of one subject in `events` (ordered by subject), as (subject, events)."""
    start = 0
    count = len(events)
    while start < count:
        subject = events[start].subject
        end = start + 1
        while end < count and events[end].subject == subject:
            end += 1
        yield subject, events[start:end]
        start = end

"""Reading events through the asyncpg driver itself, for the projector and the rebuild.

SQLAlchemy's row processing and attribute access cost more than the fold that follows them;
these reads select `data` as JSON text, parse it with orjson and build each `RecordedEvent`
from the record by position. `metadata` is left out: no read model depends on it.

Rows become events for folding here and in `service.store.log.reader`, and both leave out an event
whose `occurred_at` lies outside the accepted range (`service.events.instants.in_range`): only
an earlier version could have stored one, and no fold, count or read model ever takes it in.
A retraction is the exception: its own time does not matter (contract §4), so it retracts
whatever its time, which is read as stored (`as_stored`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.instants import EARLIEST, LATEST, as_stored, in_range, utc_iso
from service.events.recorded import RecordedEvent
from service.events.upcasting import recorded_event
from service.events.vocabulary import RETRACTION

FOLD_COLUMNS = (
    "position, subject, stream_version, source, event_id, type, occurred_at, recorded_at, "
    "data::text AS data, schema_version"
)
"""The columns `recorded` expects, in its order."""

_BEGIN = text("SELECT 1")


def occurred_in_range(alias: str) -> str:
    """SQL: the event `alias` occurred in the accepted range (`in_range` for a query)."""
    column = f"{alias}.occurred_at"
    return f"{column} >= '{utc_iso(EARLIEST)}' AND {column} < '{utc_iso(LATEST)}'"


def foldable(occurred_at: datetime, event_type: str) -> bool:
    """Whether a stored event takes part in folds: in range, or a retraction."""
    return in_range(occurred_at) or event_type == RETRACTION


def recorded_all(rows: Sequence[Sequence[Any]]) -> list[RecordedEvent]:
    """Every foldable record of `FOLD_COLUMNS` as a `RecordedEvent`, in order."""
    loads = orjson.loads
    return [
        recorded_event(p, s, v, src, i, t, as_stored(o), r, loads(d), {}, sv)
        for p, s, v, src, i, t, o, r, d, sv in rows
        if foldable(o, t)
    ]


@dataclass(frozen=True, slots=True)
class Batch:
    """The events a read of the log yields for folding, and how far in the log it read."""

    events: list[RecordedEvent]
    read: int
    """Rows read, out-of-range ones included: zero only when the log held nothing more."""
    last_position: int
    """The position of the last row read (0 when none): where the next read starts."""


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, inside `conn`'s transaction if it has begun one."""
    raw = await conn.get_raw_connection()
    connection: Any = raw.driver_connection
    if conn.in_transaction() and not connection.is_in_transaction():
        await conn.execute(_BEGIN)  # SQLAlchemy starts the driver's transaction lazily
    return connection


async def fetch_batch(conn: AsyncConnection, query: str, *args: object) -> Batch:
    """The events a query over `FOLD_COLUMNS` selects, in its order, in `conn`'s transaction."""
    connection = await driver(conn)
    rows = await connection.fetch(query, *args)
    return Batch(recorded_all(rows), len(rows), rows[-1][0] if rows else 0)


async def fetch_events(conn: AsyncConnection, query: str, *args: object) -> list[RecordedEvent]:
    """The events of `fetch_batch`, when how far the read went does not matter."""
    return (await fetch_batch(conn, query, *args)).events


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

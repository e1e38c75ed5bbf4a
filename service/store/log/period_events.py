"""The events that decide a period's scoreboard: what an audit replay reads and an export holds.

For a period [from, to) as known at `known_at`, they are, in position order:

1. every event of a deal stream (subject neither `rep:…` nor `team:…`) with
   `occurred_at < to` and `recorded_at <= known_at`, retraction excluded: the flow of the
   period needs those in it, the open numbers at `to` need the whole history before it;
2. every retraction recorded by `known_at` that names an event of (1).

Nothing else can change the five numbers grouped by rep: rep streams only carry team
assignments and targets, team streams targets and priorities, and later events or retractions
of later events are outside the period. Events whose `occurred_at` lies out of range (only an
earlier version could store one) are never counted, so never selected either; a retraction's
time does not matter, as everywhere (`event_rows.foldable`).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.instants import EARLIEST, utc_iso
from service.projections.rules import RULES
from service.store.log.event_rows import occurred_in_range

EventRow = Mapping[str, Any]
"""One selected event: its columns by name; `data` and `metadata` as JSON text."""

_REPLAY_COLUMNS = (
    "e.position, e.subject, e.stream_version, e.source, e.event_id, e.type, e.occurred_at, "
    "e.recorded_at, e.data::text AS data, e.hash, e.schema_version"
)
_EXPORT_COLUMNS = (
    f"{_REPLAY_COLUMNS}, e.metadata::text AS metadata, "
    "(SELECT p.hash FROM events p WHERE p.position = e.position - 1) AS prev"
)
_WHERE = (
    "FROM events e "
    "WHERE e.recorded_at <= $2 AND e.subject NOT LIKE 'rep:%' "
    "AND e.subject NOT LIKE 'team:%' AND e.subject NOT LIKE 'account:%' "
    "AND e.subject NOT LIKE 'calendar:%' AND ("
    f"(e.type <> 'event.retracted' AND e.occurred_at < $1 AND {occurred_in_range('e')}) "
    "OR (e.type = 'event.retracted' AND EXISTS (SELECT 1 FROM events t "
    "WHERE t.source = e.data->>'event_source' AND t.event_id = e.data->>'event_id' "
    "AND t.type <> 'event.retracted' AND t.occurred_at < $1 AND t.recorded_at <= $2 "
    f"AND t.occurred_at >= '{utc_iso(EARLIEST)}'))) "
)
# In position order over the primary key: one pass, no sort, however large the period.
_EXPORT = f"SELECT {_EXPORT_COLUMNS} {_WHERE}ORDER BY e.position"
# A page of the export: after a position, up to the head a first statement saw, at most $5.
_EXPORT_PAGE = (
    f"SELECT {_EXPORT_COLUMNS} {_WHERE}AND e.position > $3 AND e.position <= $4 "
    "ORDER BY e.position LIMIT $5"
)
# What the digest needs, a range of positions ($3, $4] at a time, joined in the server: the
# chain hashes in position order as one value, their count and the retractions among them.
DIGEST_POSITIONS = 100_000
"""Log positions per statement of `period_digest` (3.2 MB of hashes at most)."""
_DIGEST_PAGE = (
    "SELECT count(*) AS events, count(*) FILTER (WHERE e.type = 'event.retracted') AS "
    "retractions, string_agg(e.hash, ''::bytea ORDER BY e.position) AS hashes "
    f"{_WHERE}AND e.position > $3 AND e.position <= $4"
)
# The subjects of the streams not settled before the period's start ($3), in order:
# `settled_before` asked of each stream (the event types from the rule table: $4 settling,
# $5 unsettling), grouped in one pass over the table in its own order (`_GROUPED_IN_PLACE`).
_UNSETTLED_SUBJECTS = (
    f"SELECT e.subject {_WHERE}GROUP BY e.subject "
    "HAVING bool_or(e.type = 'event.retracted' OR e.occurred_at >= $3) "
    "OR max(e.occurred_at) FILTER (WHERE e.type = ANY($4::text[])) IS NULL "
    "OR max(e.occurred_at) FILTER (WHERE e.type = ANY($5::text[])) "
    ">= max(e.occurred_at) FILTER (WHERE e.type = ANY($4::text[])) "
    "ORDER BY e.subject"
)
# The period's events of some subjects ($3), stream by stream (the `(subject, stream_version)`
# key's order), so that a reader can fold each stream as soon as its last event has arrived.
_STREAMS_OF = (
    f"SELECT {_REPLAY_COLUMNS} {_WHERE}AND e.subject = ANY($3::text[]) "
    "ORDER BY e.subject, e.stream_version"
)
_GROUPED_IN_PLACE = {"enable_indexscan": "off", "work_mem": "64MB"}
"""How `_UNSETTLED_SUBJECTS` is planned: a sequential scan into a hash table. Left to itself,
the planner groups over the `(subject, stream_version)` index, which reads the table's pages
at random (33 s against 10 s at ten million events), or sorts every row on disk (14 s)."""
STREAMS_PER_READ = 2_000
"""Subjects whose streams one statement of the replay's fold pass reads."""
_SETTLING = sorted(RULES.settling_types)
_UNSETTLING = sorted(RULES.unsettling_types)
_LAST_KNOWN = text("SELECT COALESCE(max(position), 0) FROM events WHERE recorded_at <= :k")
_HEAD = text("SELECT COALESCE(max(position), 0) FROM events")
_BEGIN = text("SELECT 1")


async def _driver(conn: AsyncConnection) -> Any:
    """The driver's own connection under `conn`, inside `conn`'s transaction."""
    # The driver's own statements: SQLAlchemy's row processing would double a replay's time.
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        await conn.execute(_BEGIN)  # SQLAlchemy starts the driver's transaction lazily
    return driver


async def _prepared(conn: AsyncConnection, statement: str) -> Any:
    """`statement` prepared on the driver's own connection, inside `conn`'s transaction."""
    return await (await _driver(conn)).prepare(statement)


async def _cursor(conn: AsyncConnection, statement: str, *args: Any) -> Any:
    """A server-side cursor of the driver's own over `statement` in `conn`'s transaction."""
    return await (await _prepared(conn, statement)).cursor(*args)


async def _chunks(
    conn: AsyncConnection, statement: str, end: datetime, known_at: datetime, chunk: int
) -> AsyncIterator[Sequence[EventRow]]:
    """`statement`'s rows for the period, `chunk` at a time, over a server-side cursor."""
    cursor = await _cursor(conn, statement, end, known_at)
    while rows := await cursor.fetch(chunk):
        yield rows


def period_rows(
    conn: AsyncConnection, *, end: datetime, known_at: datetime, chunk: int = 10_000
) -> AsyncIterator[Sequence[EventRow]]:
    """The period's events with their envelope (`metadata`, and `prev`: the hash of the event
    at the position before, None if that event is missing), in position order, `chunk` rows
    at a time, over a server-side cursor; `conn` must be inside a transaction (its snapshot
    is the one read)."""
    return _chunks(conn, _EXPORT, end, known_at, chunk)


async def period_streams(
    conn: AsyncConnection, *, end: datetime, known_at: datetime, settled_before: datetime
) -> AsyncIterator[Sequence[EventRow]]:
    """The period's events stream by stream (by subject, then stream version), in `conn`'s
    transaction, less the streams settled before `settled_before` (the period's start,
    `scoreboard.settled_before`), which add nothing to the period's scoreboard by rep, team or
    all: at ten million events, most of the log. The subjects kept come in order over one
    cursor, and their streams `STREAMS_PER_READ` subjects at a time, each stream whole in
    one chunk.
    """
    start = settled_before
    driver = await _driver(conn)
    saved = await _set_locally(driver, _GROUPED_IN_PLACE)
    subjects = await _cursor(
        conn, _UNSETTLED_SUBJECTS, end, known_at, start, _SETTLING, _UNSETTLING
    )
    kept = await subjects.fetch(STREAMS_PER_READ)  # the grouping is done by its first rows
    await _set_locally(driver, saved)
    streams = await _prepared(conn, _STREAMS_OF)
    while kept:
        rows = await streams.fetch(end, known_at, [row["subject"] for row in kept])
        if rows:
            yield rows
        kept = await subjects.fetch(STREAMS_PER_READ)


async def _set_locally(driver: Any, settings: Mapping[str, str]) -> dict[str, str]:
    """Set planner settings for the rest of the transaction; what they were before."""
    saved = {}
    for name, value in settings.items():
        saved[name] = await driver.fetchval("SELECT current_setting($1)", name)
        await driver.execute("SELECT set_config($1, $2, true)", name, value)
    return saved


async def period_digest(
    conn: AsyncConnection,
    *,
    end: datetime,
    known_at: datetime,
    on_progress: Callable[[int], None] | None = None,
    positions: int | None = None,
) -> tuple[Digest, int]:
    """The digest of the period's events (in position order) and how many are retractions,
    in `conn`'s transaction; `on_progress` is told each log position reached.

    The log is read `positions` (default `DIGEST_POSITIONS`) positions at a time (a range of
    the primary key, whatever the period keeps of it), each range's hashes joined in the
    server: no row per event crosses the connection.
    """
    step = positions or DIGEST_POSITIONS
    digest = Digest()
    retractions = 0
    head = await head_position(conn)
    statement = await _prepared(conn, _DIGEST_PAGE)
    for after in range(0, head, step):
        through = min(after + step, head)
        page = await statement.fetchrow(end, known_at, after, through)
        if page["events"]:
            digest.add_many(page["hashes"], page["events"])
            retractions += page["retractions"]
        if on_progress is not None:
            on_progress(through)
    return digest, retractions


async def period_pages(
    engine: AsyncEngine, *, end: datetime, known_at: datetime, chunk: int = 2000
) -> AsyncIterator[Sequence[EventRow]]:
    """`period_rows` as one snapshot would read them, a connection per page.

    No connection is held between pages (a slow consumer cannot keep one from the pool), yet
    the rows are those of one snapshot: the first statement fixes the head position H, and the
    log is append-only with gap-free positions that commit in order (docs/ordering.md), so the
    events up to H, their columns and their predecessors' hashes never change afterwards. A
    retraction names an earlier event, so its target is within H too.
    """
    async with engine.connect() as conn:
        through = await head_position(conn)
    after = 0
    while after < through:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            rows = await driver.fetch(_EXPORT_PAGE, end, known_at, after, through, chunk)
        if not rows:
            return
        yield rows
        after = rows[-1]["position"]


class Digest:
    """SHA-256 over the 32-byte chain hashes of events, fed in position order."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.count = 0

    def add(self, chain_hash: bytes) -> None:
        """Take in one more event's hash."""
        self._sha.update(chain_hash)
        self.count += 1

    def add_many(self, chain_hashes: bytes, count: int) -> None:
        """Take in `count` events' hashes, concatenated in position order."""
        if len(chain_hashes) != 32 * count:
            raise ValueError(
                f"{count} chain hashes are {32 * count} bytes, not {len(chain_hashes)}"
            )
        self._sha.update(chain_hashes)
        self.count += count

    def hexdigest(self) -> str:
        """The digest so far, as lower-case hex."""
        return self._sha.hexdigest()


async def last_known_position(conn: AsyncConnection, known_at: datetime) -> int:
    """The newest position recorded by `known_at` (0 if none)."""
    return int((await conn.execute(_LAST_KNOWN, {"k": known_at})).scalar_one())


async def head_position(conn: AsyncConnection) -> int:
    """The newest position in the log (0 for an empty log)."""
    return int((await conn.execute(_HEAD)).scalar_one())

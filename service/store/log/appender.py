"""The write path: validated events appended atomically, exactly once, in one global order.

Ordering decision (see docs/ordering.md): every append transaction takes one transaction-scoped
advisory lock before it reads the head of the log, and holds it until commit. Positions are
therefore assigned and committed in the same order, with no gaps, so a reader that sees position
N has already been able to see every position below N. `recorded_at` and the hash chain are set
at that same point.

Group commit: requests that arrive while a transaction is in flight wait in a queue and are
written together by the next one, each planned on its own (one request's refusal never affects
another's outcome). Under load this turns many small commits into few large ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.envelope import CloudEvent
from service.events.vocabulary import RETRACTION
from service.store.chain.hashing import GENESIS
from service.store.errors import AppendRejected
from service.store.log.append_plan import (
    AppendResult,
    Key,
    LogView,
    Prepared,
    Stored,
    plan_request,
    prepare,
    retraction_target,
)
from service.store.log.recent import RecentEvents

__all__ = ["APPEND_LOCK", "NOTIFY_CHANNEL", "AppendResult", "EventAppender"]

APPEND_LOCK = 7_351_000
NOTIFY_CHANNEL = "funnel_events"
MAX_GROUP_EVENTS = 1000
"""A group takes waiting requests up to this many events (one larger request goes alone).
Grouping pays for small requests, whose transaction costs more than their rows; large ones
grouped together would be answered together, and their clients would then send and be
validated together while the log sits idle, instead of one batch being validated while
another is written."""
PREPARE_SLICE = 250
_log = logging.getLogger(__name__)

# One round trip opens the transaction and takes the lock (simple query protocol); the view
# is read by the next statement, whose snapshot is therefore taken after the lock is held.
_BEGIN_LOCKED = f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})"
# Everything the plan needs, in one statement: stored events for the keys at hand ('e'), each
# subject's current version ('v') and the head of the log with the next `recorded_at` ('h').
_VIEW = """
SELECT 'e' AS kind, e.source, e.event_id, e.fingerprint AS digest, e.position,
       e.stream_version, e.subject, e.type,
       EXISTS (SELECT 1 FROM events r
               WHERE r.type = 'event.retracted'
                 AND r.data->>'event_source' = e.source
                 AND r.data->>'event_id' = e.event_id) AS retracted,
       NULL::timestamptz AS recorded_at
FROM events e
JOIN unnest($1::text[], $2::text[]) AS k(source, event_id)
  ON e.source = k.source AND e.event_id = k.event_id
UNION ALL
SELECT 'v', NULL, NULL, NULL, NULL,
       COALESCE((SELECT max(e.stream_version) FROM events e WHERE e.subject = s.subject), 0),
       s.subject, NULL, NULL, NULL
FROM unnest($3::text[]) AS s(subject)
UNION ALL
SELECT 'h', NULL, NULL, last.hash, COALESCE(last.position, 0), NULL, NULL, NULL, NULL,
       GREATEST(clock_timestamp(), last.recorded_at)
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (SELECT position, hash, recorded_at FROM events
                   ORDER BY position DESC LIMIT 1) AS last ON true
"""
# The rows go in by binary COPY: half the driver's work of an INSERT over eleven arrays, and
# less of the server's. The notification goes with the COMMIT (delivered when it commits).
EVENT_COLUMNS = (
    "position",
    "subject",
    "stream_version",
    "source",
    "event_id",
    "type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "data",
    "metadata",
    "fingerprint",
    "hash",
)


@dataclass(slots=True)
class _Request:
    events: Sequence[Prepared]
    done: asyncio.Future[list[AppendResult]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EventAppender:
    """Appends batches of validated events to the log, grouping concurrent requests."""

    def __init__(
        self,
        engine: AsyncEngine,
        on_append: Callable[[int], None] | None = None,
        recent: RecentEvents | None = None,
    ) -> None:
        self._engine = engine
        self._on_append = on_append
        self._recent = recent
        self._queue: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(
        self, events: Sequence[CloudEvent], metadata: Mapping[str, Any] | None = None
    ) -> list[AppendResult]:
        """Store the new events of the batch, all or nothing; report each event's outcome."""
        prepared: list[Prepared] = []
        for start in range(0, len(events), PREPARE_SLICE):
            if start:
                await asyncio.sleep(0)  # let the transaction in flight go on meanwhile
            prepared += prepare(events[start : start + PREPARE_SLICE], metadata or {})
        request = _Request(prepared)
        self._queue.append(request)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="event-appender")
        # Shielded: a caller that goes away must not cancel the group's transaction.
        return await asyncio.shield(request.done)

    async def _drain(self) -> None:
        while self._queue:
            try:
                async with self._engine.connect() as conn:
                    await self._serve(conn)
            except Exception as exc:  # no connection to be had: the next group learns why
                _fail(_take_group(self._queue), exc)

    async def _serve(self, conn: AsyncConnection) -> None:
        """Write groups on one connection while requests keep coming; after a failure the next
        group gets a fresh connection (the pool checks it before handing it out)."""
        driver: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
        while self._queue:
            group = _take_group(self._queue)
            try:
                head = await self._write(driver, group)
            except BaseException as exc:  # handed to every waiting request
                # Closing the connection ends its transaction, whatever state the failure left
                # it in.
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                _fail(group, exc)
                if not isinstance(exc, Exception):
                    raise  # cancelled: the service is stopping
                return
            if head and self._on_append is not None:
                self._on_append(head)

    async def _write(self, driver: asyncpg.Connection, group: list[_Request]) -> int:
        """Write one group in one transaction; on any failure the caller discards the
        connection, which rolls the transaction back."""
        await driver.execute(_BEGIN_LOCKED)
        view = await _load_view(driver, [p.event for request in group for p in request.events])
        outcomes: list[list[AppendResult] | AppendRejected] = []
        for request in group:
            try:
                outcomes.append(plan_request(view, request.events))
            except AppendRejected as exc:
                outcomes.append(exc)
        if view.rows:
            await _copy_rows(driver, view)
            # `position` is an int: nothing to quote.
            await driver.execute(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '{view.position}'); COMMIT")
            self._hand_over(view)
        else:
            await driver.execute("COMMIT")
        for request, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, AppendRejected):
                request.done.set_exception(outcome)
            else:
                request.done.set_result(outcome)
        return view.position if view.rows else 0

    def _hand_over(self, view: LogView) -> None:
        """Give the committed rows to this process's projector (`RecentEvents`)."""
        if self._recent is None:
            return
        try:
            self._recent.appended(view.rows, view.recorded_at)
        except Exception:  # committed already: the projector reads them from the log instead
            self._recent.clear()
            _log.exception("handing appended events to the projector failed")


def _fail(group: list[_Request], error: BaseException) -> None:
    for request in group:
        if request.done.done():
            continue
        if isinstance(error, Exception):
            request.done.set_exception(error)
        else:
            request.done.cancel()


def _take_group(queue: list[_Request]) -> list[_Request]:
    group: list[_Request] = []
    size = 0
    while queue and (not group or size + len(queue[0].events) <= MAX_GROUP_EVENTS):
        request = queue.pop(0)
        group.append(request)
        size += len(request.events)
    return group


async def _load_view(driver: asyncpg.Connection, events: list[CloudEvent]) -> LogView:
    keys: list[Key] = [event.key for event in events]
    keys += [retraction_target(event) for event in events if event.type == RETRACTION]
    subjects = sorted({event.subject for event in events})
    rows = await driver.fetch(_VIEW, [k[0] for k in keys], [k[1] for k in keys], subjects)
    stored: dict[Key, Stored] = {}
    versions: dict[str, int] = {}
    for row in rows:
        kind = row["kind"]
        if kind == "e":
            stored[(row["source"], row["event_id"])] = Stored(
                row["digest"],
                row["position"],
                row["stream_version"],
                row["subject"],
                row["type"],
                row["retracted"],
            )
        elif kind == "v":
            versions[row["subject"]] = row["stream_version"]
        else:
            head = row
    return LogView(
        stored=stored,
        versions=versions,
        position=head["position"],
        prev_hash=head["digest"] if head["digest"] is not None else GENESIS,
        recorded_at=head["recorded_at"],
    )


async def _copy_rows(driver: asyncpg.Connection, view: LogView) -> None:
    recorded_at = view.recorded_at
    await driver.copy_records_to_table(
        "events",
        records=[
            (
                row.position,
                row.event.subject,
                row.stream_version,
                row.event.source,
                row.event.id,
                row.event.type,
                row.prepared.schema_version,
                row.event.time,
                recorded_at,
                row.prepared.data,
                row.prepared.metadata,
                row.fingerprint,
                row.hash,
            )
            for row in view.rows
        ],
        columns=EVENT_COLUMNS,
    )

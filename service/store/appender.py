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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.envelope import CloudEvent
from service.events.vocabulary import RETRACTION
from service.store.append_plan import (
    AppendResult,
    Key,
    LogView,
    Stored,
    plan_request,
    retraction_target,
)
from service.store.chain import GENESIS
from service.store.errors import AppendRejected

__all__ = ["APPEND_LOCK", "NOTIFY_CHANNEL", "AppendResult", "EventAppender"]

APPEND_LOCK = 7_351_000
NOTIFY_CHANNEL = "funnel_events"
MAX_GROUP_EVENTS = 5000

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_EXISTING = text(
    """
    SELECT e.source, e.event_id, e.fingerprint, e.position, e.stream_version, e.subject, e.type,
           EXISTS (SELECT 1 FROM events r
                   WHERE r.type = 'event.retracted'
                     AND r.data->>'event_source' = e.source
                     AND r.data->>'event_id' = e.event_id) AS retracted
    FROM events e
    JOIN unnest(CAST(:sources AS text[]), CAST(:ids AS text[])) AS k(source, event_id)
      ON e.source = k.source AND e.event_id = k.event_id
    """
)
_VERSIONS = text(
    """
    SELECT s.subject,
           COALESCE((SELECT max(e.stream_version) FROM events e WHERE e.subject = s.subject), 0)
               AS version
    FROM unnest(CAST(:subjects AS text[])) AS s(subject)
    """
)
_HEAD = text(
    """
    SELECT COALESCE(last.position, 0) AS position, last.hash,
           GREATEST(clock_timestamp(), last.recorded_at) AS recorded_at
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT position, hash, recorded_at FROM events
                       ORDER BY position DESC LIMIT 1) AS last ON true
    """
)
_INSERT = text(
    """
    INSERT INTO events (position, subject, stream_version, source, event_id, type, occurred_at,
                        recorded_at, data, metadata, fingerprint, hash)
    SELECT u.position, u.subject, u.stream_version, u.source, u.event_id, u.type, u.occurred_at,
           :recorded_at, u.data::jsonb, u.metadata::jsonb, u.fingerprint, u.hash
    FROM unnest(CAST(:positions AS bigint[]), CAST(:subjects AS text[]),
                CAST(:versions AS integer[]), CAST(:sources AS text[]), CAST(:ids AS text[]),
                CAST(:types AS text[]), CAST(:occurred AS timestamptz[]),
                CAST(:data AS text[]), CAST(:metadata AS text[]),
                CAST(:fingerprints AS bytea[]), CAST(:hashes AS bytea[]))
         AS u(position, subject, stream_version, source, event_id, type, occurred_at, data,
              metadata, fingerprint, hash)
    """
)
_NOTIFY = text("SELECT pg_notify(:channel, :position)")


@dataclass(slots=True)
class _Request:
    events: Sequence[CloudEvent]
    metadata: Mapping[str, Any]
    done: asyncio.Future[list[AppendResult]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EventAppender:
    """Appends batches of validated events to the log, grouping concurrent requests."""

    def __init__(self, engine: AsyncEngine, on_append: Callable[[int], None] | None = None) -> None:
        self._engine = engine
        self._on_append = on_append
        self._queue: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(
        self, events: Sequence[CloudEvent], metadata: Mapping[str, Any] | None = None
    ) -> list[AppendResult]:
        """Store the new events of the batch, all or nothing; report each event's outcome."""
        request = _Request(events, dict(metadata or {}))
        self._queue.append(request)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="event-appender")
        # Shielded: a caller that goes away must not cancel the group's transaction.
        return await asyncio.shield(request.done)

    async def _drain(self) -> None:
        while self._queue:
            group = _take_group(self._queue)
            try:
                head = await self._write(group)
            except Exception as exc:  # handed to every waiting request
                for request in group:
                    if not request.done.done():
                        request.done.set_exception(exc)
                continue
            if head and self._on_append is not None:
                self._on_append(head)

    async def _write(self, group: list[_Request]) -> int:
        async with self._engine.begin() as conn:
            await conn.execute(_LOCK, {"key": APPEND_LOCK})
            view = await _load_view(conn, [e for request in group for e in request.events])
            outcomes: list[list[AppendResult] | AppendRejected] = []
            for request in group:
                try:
                    outcomes.append(plan_request(view, request.events, request.metadata))
                except AppendRejected as exc:
                    outcomes.append(exc)
            if view.rows:
                await _insert(conn, view)
        for request, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, AppendRejected):
                request.done.set_exception(outcome)
            else:
                request.done.set_result(outcome)
        return view.position if view.rows else 0


def _take_group(queue: list[_Request]) -> list[_Request]:
    group: list[_Request] = []
    size = 0
    while queue and (not group or size + len(queue[0].events) <= MAX_GROUP_EVENTS):
        request = queue.pop(0)
        group.append(request)
        size += len(request.events)
    return group


async def _load_view(conn: AsyncConnection, events: list[CloudEvent]) -> LogView:
    keys: list[Key] = [event.key for event in events]
    keys += [retraction_target(event) for event in events if event.type == RETRACTION]
    existing = await conn.execute(
        _EXISTING, {"sources": [k[0] for k in keys], "ids": [k[1] for k in keys]}
    )
    stored = {
        (r.source, r.event_id): Stored(
            bytes(r.fingerprint), r.position, r.stream_version, r.subject, r.type, r.retracted
        )
        for r in existing
    }
    subjects = sorted({event.subject for event in events})
    versions = {r.subject: r.version for r in await conn.execute(_VERSIONS, {"subjects": subjects})}
    head = (await conn.execute(_HEAD)).one()
    return LogView(
        stored=stored,
        versions=versions,
        position=head.position,
        prev_hash=bytes(head.hash) if head.hash is not None else GENESIS,
        recorded_at=head.recorded_at,
    )


async def _insert(conn: AsyncConnection, view: LogView) -> None:
    rows = view.rows
    await conn.execute(
        _INSERT,
        {
            "positions": [r.position for r in rows],
            "subjects": [r.event.subject for r in rows],
            "versions": [r.stream_version for r in rows],
            "sources": [r.event.source for r in rows],
            "ids": [r.event.id for r in rows],
            "types": [r.event.type for r in rows],
            "occurred": [r.event.time for r in rows],
            "data": [orjson.dumps(r.data).decode() for r in rows],
            "metadata": [orjson.dumps(r.metadata).decode() for r in rows],
            "fingerprints": [r.fingerprint for r in rows],
            "hashes": [r.hash for r in rows],
            "recorded_at": view.recorded_at,
        },
    )
    await conn.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "position": str(view.position)})

"""The write path: validated events appended atomically, exactly once, in one global order.

Ordering decision (see docs/ordering.md): every append takes one transaction-scoped advisory lock
before it reads the head of the log, and holds it until commit. Positions are therefore assigned
and committed in the same order, with no gaps, so a reader that sees position N has already been
able to see every position below N. `recorded_at` and the hash chain are set at that same point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.envelope import CloudEvent
from service.events.vocabulary import RETRACTION
from service.store.chain import GENESIS, canonical_record, link_hash
from service.store.errors import (
    KeyReuseConflict,
    RejectedItem,
    RetractionRejected,
    VersionConflict,
)

APPEND_LOCK = 7_351_000
NOTIFY_CHANNEL = "funnel_events"

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What happened to one event of a batch."""

    source: str
    id: str
    status: Literal["created", "duplicate"]
    position: int
    stream_version: int


@dataclass(frozen=True, slots=True)
class _Stored:
    fingerprint: bytes
    position: int
    stream_version: int
    subject: str
    type: str
    retracted: bool


@dataclass(slots=True)
class _Row:
    index: int
    event: CloudEvent
    fingerprint: bytes
    stream_version: int = 0
    position: int = 0


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
    FROM unnest(CAST(:subjects AS text[])) AS s(subject)
    """
)
_HEAD = text(
    """
    SELECT COALESCE(last.position, 0), last.hash,
           GREATEST(clock_timestamp(), last.recorded_at)
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


class EventAppender:
    """Appends batches of validated events to the log."""

    def __init__(self, engine: AsyncEngine, on_append: Callable[[int], None] | None = None) -> None:
        self._engine = engine
        self._on_append = on_append

    async def append(
        self, events: Sequence[CloudEvent], metadata: Mapping[str, Any] | None = None
    ) -> list[AppendResult]:
        """Store the new events of the batch, all or nothing; report each event's outcome."""
        async with self._engine.begin() as conn:
            await conn.execute(_LOCK, {"key": APPEND_LOCK})
            results = await _append_locked(conn, events, dict(metadata or {}))
        created = [r.position for r in results if r.status == "created"]
        if created and self._on_append is not None:
            self._on_append(max(created))
        return results


async def _append_locked(
    conn: AsyncConnection, events: Sequence[CloudEvent], metadata: dict[str, Any]
) -> list[AppendResult]:
    rows = [_Row(i, event, event.fingerprint()) for i, event in enumerate(events)]
    retraction_targets = [_target(row.event) for row in rows if row.event.type == RETRACTION]
    stored = await _existing(conn, [row.event.key for row in rows] + retraction_targets)
    new_rows, first_of = _classify(rows, stored)
    if new_rows:
        await _assign_versions(conn, new_rows)
        _check_retractions(new_rows, stored)
        await _insert(conn, new_rows, metadata)
    return _results(rows, stored, first_of)


def _target(event: CloudEvent) -> Key:
    data = event.data_json()
    return (str(data["event_source"]), str(data["event_id"]))


async def _existing(conn: AsyncConnection, keys: list[Key]) -> dict[Key, _Stored]:
    result = await conn.execute(
        _EXISTING, {"sources": [k[0] for k in keys], "ids": [k[1] for k in keys]}
    )
    return {
        (r.source, r.event_id): _Stored(
            bytes(r.fingerprint), r.position, r.stream_version, r.subject, r.type, r.retracted
        )
        for r in result
    }


def _classify(rows: list[_Row], stored: dict[Key, _Stored]) -> tuple[list[_Row], dict[Key, _Row]]:
    """Split the batch into new events and duplicates; refuse any key reused with other content."""
    conflicts: list[RejectedItem] = []
    first_of: dict[Key, _Row] = {}
    new_rows: list[_Row] = []
    for row in rows:
        key = row.event.key
        previous = stored.get(key)
        earlier = first_of.get(key)
        known_fingerprint = (
            previous.fingerprint if previous else (earlier.fingerprint if earlier else None)
        )
        if known_fingerprint is not None and known_fingerprint != row.fingerprint:
            conflicts.append(
                RejectedItem(
                    row.index,
                    "this (source, id) is already used by an event with other content",
                    source=key[0],
                    id=key[1],
                )
            )
        elif previous is None and earlier is None:
            first_of[key] = row
            new_rows.append(row)
    if conflicts:
        raise KeyReuseConflict(conflicts)
    return new_rows, first_of


async def _assign_versions(conn: AsyncConnection, rows: list[_Row]) -> None:
    subjects = sorted({row.event.subject for row in rows})
    result = await conn.execute(_VERSIONS, {"subjects": subjects})
    versions: dict[str, int] = {row[0]: row[1] for row in result}
    mismatches: list[RejectedItem] = []
    for row in rows:
        current = versions[row.event.subject]
        expected = row.event.expected_version
        if expected is not None and expected != current:
            mismatches.append(
                RejectedItem(
                    row.index,
                    f"expected version {expected} of stream "
                    f"{row.event.subject!r}, but it is at version {current}",
                    source=row.event.source,
                    id=row.event.id,
                )
            )
        row.stream_version = versions[row.event.subject] = current + 1
    if mismatches:
        raise VersionConflict(mismatches)


def _check_retractions(rows: list[_Row], stored: dict[Key, _Stored]) -> None:
    """A retraction must name an existing, unretracted, non-retraction event of its subject."""
    in_batch: dict[Key, _Row] = {}
    retracted_here: set[Key] = set()
    problems: list[RejectedItem] = []
    for row in rows:
        event = row.event
        if event.type == RETRACTION:
            target = _target(event)
            problem = _retraction_problem(
                event, target, stored.get(target), in_batch.get(target), target in retracted_here
            )
            if problem:
                problems.append(RejectedItem(row.index, problem, event.source, event.id))
            retracted_here.add(target)
        in_batch[event.key] = row
    if problems:
        raise RetractionRejected(problems)


def _retraction_problem(
    event: CloudEvent,
    target: Key,
    stored: _Stored | None,
    earlier: _Row | None,
    retracted_in_batch: bool,
) -> str | None:
    name = f"event (source={target[0]!r}, id={target[1]!r})"
    if stored is None and earlier is None:
        return f"the retracted {name} does not exist"
    subject = stored.subject if stored else earlier.event.subject  # type: ignore[union-attr]
    kind = stored.type if stored else earlier.event.type  # type: ignore[union-attr]
    if subject != event.subject:
        return f"the retracted {name} belongs to another subject ({subject!r})"
    if kind == RETRACTION:
        return f"the {name} is itself a retraction and cannot be retracted"
    if (stored is not None and stored.retracted) or retracted_in_batch:
        return f"the {name} is already retracted"
    return None


async def _insert(conn: AsyncConnection, rows: list[_Row], metadata: dict[str, Any]) -> None:
    head = (await conn.execute(_HEAD)).one()
    position: int = head[0]
    prev_hash: bytes = bytes(head[1]) if head[1] is not None else GENESIS
    recorded_at: datetime = head[2]
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "positions",
            "subjects",
            "versions",
            "sources",
            "ids",
            "types",
            "occurred",
            "data",
            "metadata",
            "fingerprints",
            "hashes",
        )
    }
    for row in rows:
        position += 1
        row.position = position
        event = row.event
        data = event.data_json()
        event_metadata = {**metadata, "time": event.original_time}
        if event.extensions:
            event_metadata["extensions"] = dict(event.extensions)
        prev_hash = link_hash(
            canonical_record(
                position=position,
                subject=event.subject,
                stream_version=row.stream_version,
                source=event.source,
                event_id=event.id,
                event_type=event.type,
                schema_version=1,
                occurred_at=event.time,
                recorded_at=recorded_at,
                data=data,
                metadata=event_metadata,
                prev_hash=prev_hash,
            )
        )
        for name, value in (
            ("positions", position),
            ("subjects", event.subject),
            ("versions", row.stream_version),
            ("sources", event.source),
            ("ids", event.id),
            ("types", event.type),
            ("occurred", event.time),
            ("data", orjson.dumps(data).decode()),
            ("metadata", orjson.dumps(event_metadata).decode()),
            ("fingerprints", row.fingerprint),
            ("hashes", prev_hash),
        ):
            columns[name].append(value)
    await conn.execute(_INSERT, {**columns, "recorded_at": recorded_at})
    await conn.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "position": str(position)})


def _results(
    rows: list[_Row], stored: dict[Key, _Stored], first_of: dict[Key, _Row]
) -> list[AppendResult]:
    results: list[AppendResult] = []
    for row in rows:
        key = row.event.key
        previous = stored.get(key)
        if previous is not None:
            results.append(
                AppendResult(
                    key[0], key[1], "duplicate", previous.position, previous.stream_version
                )
            )
            continue
        first = first_of[key]
        status: Literal["created", "duplicate"] = "created" if first is row else "duplicate"
        results.append(AppendResult(key[0], key[1], status, first.position, first.stream_version))
    return results

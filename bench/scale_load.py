"""Loading a large generated history fast and honestly: real events, real hash chain, COPY.

Each event is validated by the service's own `parse_event` and made ready by the appender's own
`prepare` (canonical data, metadata, fingerprint, link template) in worker processes; the main
process then does what the appender does under its lock, in log order (position, stream version,
`recorded_at`, the link's hash over the previous one) and copies the rows into `events` with
binary `COPY`, 10 000 per transaction. What differs from ingestion over HTTP: no duplicate or
version checks against the stored log (the generator's keys are unique and its retractions
valid), and each event's `recorded_at` is its delivery instant in the generated history (as if
the ledger had run through those years), never earlier than the row before it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

import asyncpg

from bench.datagen import Delivered
from service.events.envelope import parse_event
from service.events.instants import utc_iso_json
from service.store.chain.hashing import GENESIS, LinkTemplate, link_hash
from service.store.log.append_plan import prepare
from service.store.log.appender import EVENT_COLUMNS

CHUNK = 10_000
METADATA = {"actor": "bench"}

Ready = tuple[str, str, str, str, int, datetime, str, str, bytes, bytes, bytes, bytes]
"""subject, source, id, type, schema version, time, data, metadata, fingerprint, and the link
template's head, middle and tail."""


def ready(raws: Sequence[dict[str, Any]]) -> list[Ready]:
    """Validate and prepare raw CloudEvents as the service does (run in a worker process)."""
    now = datetime.now(UTC)
    events = [parse_event(raw, now=now) for raw in raws]
    out: list[Ready] = []
    for item in prepare(events, METADATA):
        event, template = item.event, item.template
        out.append(
            (
                event.subject,
                event.source,
                event.id,
                event.type,
                item.schema_version,
                event.time,
                item.data,
                item.metadata,
                event.fingerprint(),
                template.head,
                template.middle,
                template.tail,
            )
        )
    return out


@dataclass(slots=True)
class Head:
    """The end of the stored log: what the next row is chained to."""

    position: int
    hash: bytes
    recorded_at: datetime | None


async def head(conn: asyncpg.Connection) -> Head:
    """The last stored event's position, hash and `recorded_at` (genesis for an empty log)."""
    row = await conn.fetchrow(
        "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1"
    )
    if row is None:
        return Head(0, GENESIS, None)
    return Head(row["position"], bytes(row["hash"]), row["recorded_at"])


async def _versions(conn: asyncpg.Connection, subjects: list[str]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT subject, max(stream_version) AS v FROM events WHERE subject = ANY($1::text[]) "
        "GROUP BY subject",
        subjects,
    )
    return {row["subject"]: row["v"] for row in rows}


def _chunks(delivered: list[Delivered]) -> Iterator[list[Delivered]]:
    for start in range(0, len(delivered), CHUNK):
        yield delivered[start : start + CHUNK]


async def append_year(conn: asyncpg.Connection, delivered: list[Delivered]) -> float:
    """Append one year of delivered events after the stored log; return the seconds taken."""
    began = time.perf_counter()
    at = await head(conn)
    versions = await _versions(conn, sorted({event["subject"] for _, event in delivered}))
    loop = asyncio.get_running_loop()
    workers = max(1, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        chunks = list(_chunks(delivered))
        pending: list[Future[list[Ready]]] = [
            pool.submit(ready, [event for _, event in chunk]) for chunk in chunks[: workers + 1]
        ]
        for index, chunk in enumerate(chunks):
            prepared = await asyncio.wrap_future(pending[index], loop=loop)
            if index + workers + 1 < len(chunks):
                following = chunks[index + workers + 1]
                pending.append(pool.submit(ready, [event for _, event in following]))
            rows = _chain(at, versions, chunk, prepared)
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=rows, columns=EVENT_COLUMNS)
    return time.perf_counter() - began


def _chain(
    at: Head, versions: dict[str, int], chunk: list[Delivered], prepared: list[Ready]
) -> list[tuple[Any, ...]]:
    """The chunk's rows, linked after `at` (which moves to the chunk's last row)."""
    rows: list[tuple[Any, ...]] = []
    for (delivered, _), item in zip(chunk, prepared, strict=True):
        subject, source, event_id, kind, schema, when, data, meta, fingerprint, *parts = item
        position = at.position + 1
        version = versions.get(subject, 0) + 1
        versions[subject] = version
        recorded = delivered if at.recorded_at is None else max(at.recorded_at, delivered)
        template = LinkTemplate(*parts)
        digest = link_hash(
            template.link(
                position=position,
                prev_hash=at.hash,
                recorded_at=utc_iso_json(recorded),
                stream_version=version,
            )
        )
        rows.append(
            (
                position,
                subject,
                version,
                source,
                event_id,
                kind,
                schema,
                when,
                recorded,
                data,
                meta,
                fingerprint,
                digest,
            )
        )
        at.position, at.hash, at.recorded_at = position, digest, recorded
    return rows

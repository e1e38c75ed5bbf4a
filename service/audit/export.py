"""The period export: NDJSON of every event that decides a period, for an independent verifier.

Line 1 is a header (format, period, `known_at`, time zone, how hashes and the digest are made);
then one line per event of the period (`period_events`), in position order, each with exactly
the fields its chain hash covers plus that hash; the last line is a trailer with the counts and
the digest. See docs/audit.md for the format and `tools/verify_export.py` for a verifier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.instants import as_stored
from service.events.vocabulary import RETRACTION
from service.store.chain.hashing import GENESIS, chain_record, iso
from service.store.log.period_events import Digest, EventRow, period_pages, period_rows

EXPORT_FORMAT = "funnel-ledger-export/1"
NDJSON = "application/x-ndjson"
RECORD_FIELDS = (
    "position",
    "subject",
    "stream_version",
    "source",
    "id",
    "type",
    "schema_version",
    "time",
    "recorded_at",
    "data",
    "metadata",
    "prev",
)
"""The fields of an event line that its `hash` covers (and `chain.chain_record` builds)."""


@dataclass(frozen=True, slots=True)
class ExportScope:
    """What is exported: the period [start, end) as known at `known_at`."""

    start: datetime
    end: datetime
    known_at: datetime
    timezone: str
    period: str | None = None


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What the trailer states: counts, the positions spanned and the digest."""

    events: int
    retractions: int
    first_position: int | None
    last_position: int | None
    digest: str

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready fields."""
        return {
            "events": self.events,
            "retractions": self.retractions,
            "first_position": self.first_position,
            "last_position": self.last_position,
            "digest": self.digest,
        }


OnComplete = Callable[[ExportSummary], Awaitable[None]]


def header(scope: ExportScope) -> dict[str, Any]:
    """The first line: what the export holds and how to check it."""
    return {
        "kind": "header",
        "format": EXPORT_FORMAT,
        "period": {"from": iso(scope.start), "to": iso(scope.end), "label": scope.period},
        "known_at": iso(scope.known_at),
        "timezone": scope.timezone,
        "group_by": "rep",
        "generated_at": iso(datetime.now(UTC)),
        "selection": (
            "every event of a deal stream with time < period.to and recorded_at <= known_at, "
            "and every retraction recorded by known_at of one of them; in position order"
        ),
        "hash": "sha256 over the RFC 8785 canonical JSON of the line's record_fields",
        "record_fields": list(RECORD_FIELDS),
        "genesis": GENESIS.hex(),
        "digest": "sha256 over the 32-byte hashes of the event lines, concatenated in order",
    }


def event_line(row: EventRow) -> dict[str, Any]:
    """An event as exported: its hashed record (with the previous link's hash) and its hash."""
    prev: bytes | None = GENESIS if row["position"] == 1 else row["prev"]
    record = chain_record(
        position=row["position"],
        subject=row["subject"],
        stream_version=row["stream_version"],
        source=row["source"],
        event_id=row["event_id"],
        event_type=row["type"],
        schema_version=row["schema_version"],
        occurred_at=as_stored(row["occurred_at"]),  # a retraction's may be `-infinity`
        recorded_at=row["recorded_at"],
        data=orjson.loads(row["data"]),
        metadata=orjson.loads(row["metadata"]),
        prev_hash=prev or GENESIS,
    )
    if prev is None:
        record["prev"] = None  # the event before it is missing from the log: a broken chain
    return {"kind": "event", **record, "hash": row["hash"].hex()}


def _line(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document) + b"\n"


async def export_lines(
    conn: AsyncConnection, scope: ExportScope, on_complete: OnComplete | None = None
) -> AsyncIterator[bytes]:
    """The export, read in `conn`'s snapshot, a chunk of lines at a time (see `document`)."""
    rows = period_rows(conn, end=scope.end, known_at=scope.known_at)
    async for chunk in document(rows, scope, on_complete):
        yield chunk


async def export_pages(
    engine: AsyncEngine, scope: ExportScope, on_complete: OnComplete | None = None
) -> AsyncIterator[bytes]:
    """The export, read a page at a time with no connection held in between (`period_pages`)."""
    rows = period_pages(engine, end=scope.end, known_at=scope.known_at)
    async for chunk in document(rows, scope, on_complete):
        yield chunk


async def document(
    pages: AsyncIterator[Sequence[EventRow]],
    scope: ExportScope,
    on_complete: OnComplete | None = None,
) -> AsyncIterator[bytes]:
    """Header, event lines of `pages`, trailer; `on_complete` runs just before the trailer."""
    yield _line(header(scope))
    digest = Digest()
    retractions = 0
    first: int | None = None
    last: int | None = None
    async for rows in pages:
        lines: list[bytes] = []
        for row in rows:
            digest.add(row["hash"])
            retractions += row["type"] == RETRACTION
            lines.append(_line(event_line(row)))
        first = rows[0]["position"] if first is None else first
        last = rows[-1]["position"]
        yield b"".join(lines)
    summary = ExportSummary(digest.count, retractions, first, last, digest.hexdigest())
    if on_complete is not None:
        await on_complete(summary)
    yield _line({"kind": "trailer", **summary.to_json()})

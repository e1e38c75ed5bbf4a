"""NDJSON CloudEvents: one event per line, or an audit export (`funnel-ledger-export/1`).

An audit export's lines are checked before anything is stored: each event line's hash is
recomputed from its own record, and the hashes, in order, must give the trailer's digest and
count. The events are imported with their `time` as first given (kept in their metadata), so
that importing them back into the ledger they came from finds them all duplicates. Positions,
`recorded_at` and hashes are the receiving log's own: the source's digest proves the file is
what the source exported; after the import, every event is checked to be stored with the
same content (`ImportedCheck`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from service.audit.export import EXPORT_FORMAT, RECORD_FIELDS
from service.events.upcasting import current_version, upcast
from service.events.vocabulary import EVENT_TYPES
from service.importers.rows import InvalidInput, Origin, Plan
from service.store.chain.hashing import canonical_json, link_hash


@dataclass(frozen=True, slots=True)
class SourceDigest:
    """What an audit export's trailer states, checked against its event lines."""

    events: int
    digest: str


@dataclass(slots=True)
class NdjsonInput:
    """The events of an NDJSON file, and the digest it carried if it is an audit export."""

    plan: Plan
    source_digest: SourceDigest | None


def _export_event(line: dict[str, Any], origin: Origin) -> dict[str, Any]:
    """The CloudEvent of an export's event line, once its hash is checked."""
    missing = [name for name in (*RECORD_FIELDS, "hash") if name not in line]
    if missing:
        raise InvalidInput(origin, f"an event line without {', '.join(missing)}")
    record = {name: line[name] for name in RECORD_FIELDS}
    if record["prev"] is None or link_hash(canonical_json(record)).hex() != line["hash"]:
        raise InvalidInput(origin, "the line's hash does not match its record (altered?)")
    event_type, data = str(line["type"]), line["data"]
    entry = EVENT_TYPES.get(event_type)
    if entry is not None and isinstance(data, dict):
        schema = line["schema_version"]
        if isinstance(schema, int) and schema != current_version(event_type):
            data = dict(upcast(event_type, schema, data))
    metadata = line["metadata"] if isinstance(line["metadata"], dict) else {}
    given_time = metadata.get("time")
    return {
        "specversion": "1.0",
        "id": line["id"],
        "source": line["source"],
        "type": event_type,
        "subject": line["subject"],
        "time": given_time if isinstance(given_time, str) and given_time else line["time"],
        "datacontenttype": "application/json",
        "data": data,
    }


def _json_line(raw: bytes, origin: Origin) -> dict[str, Any]:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(origin, f"broken JSON: {exc}") from exc
    if not isinstance(line, dict):
        raise InvalidInput(origin, "a line must be a JSON object")
    return line


def _checked_digest(
    trailer: dict[str, Any] | None, hashes: int, digest: str, name: str
) -> SourceDigest:
    end = Origin(name, "end")
    if trailer is None:
        raise InvalidInput(end, "the export has no trailer: it was cut short")
    events = trailer.get("events")
    stated = SourceDigest(events if isinstance(events, int) else -1, str(trailer.get("digest")))
    if stated.events != hashes or stated.digest != digest:
        raise InvalidInput(
            end,
            f"the trailer states {stated.events} events, digest {stated.digest}; "
            f"the lines give {hashes}, {digest}",
        )
    return stated


def read_ndjson(path: Path) -> NdjsonInput:
    """Every event of `path`; `InvalidInput` names the first broken line."""
    plan = Plan()
    name = path.name
    digest = hashlib.sha256()
    hashes = 0
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInput(Origin(name, "0"), f"cannot be read: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            origin = Origin(name, str(number))
            if not raw.strip():
                continue
            if trailer is not None:
                raise InvalidInput(origin, "a line after the export's trailer")
            line = _json_line(raw, origin)
            kind = line.get("kind")
            if kind == "header":
                if number != 1 or line.get("format") != EXPORT_FORMAT:
                    raise InvalidInput(origin, f"a header must be line 1, of {EXPORT_FORMAT}")
                header = line
            elif kind == "trailer":
                trailer = line
            elif kind == "event" and header is not None:
                plan.add(origin, _export_event(line, origin))
                digest.update(bytes.fromhex(str(line["hash"])))
                hashes += 1
            elif kind is None and header is None:
                plan.add(origin, line)
            else:
                raise InvalidInput(origin, f"a line of kind {kind!r} where it cannot be")
            plan.rows += kind not in {"header", "trailer"}
    if header is None:
        return NdjsonInput(plan, None)
    return NdjsonInput(plan, _checked_digest(trailer, hashes, digest.hexdigest(), name))

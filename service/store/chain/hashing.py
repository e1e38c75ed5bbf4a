"""The tamper-evident hash chain over the events table.

Each event's hash is SHA-256 over the RFC 8785 (JCS) canonical JSON of its stored record and the
previous event's hash (32 zero bytes before the first event). The form is documented in
`docs/audit.md` and recomputed, with the standard library only, by `tools/verify_export.py`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from service.events.instants import utc_iso

GENESIS = bytes(32)


def iso(instant: datetime) -> str:
    """The canonical text of an instant: ISO 8601 in UTC, microseconds only when non-zero."""
    return utc_iso(instant)


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) canonical JSON of a stored record.

    For what the ledger stores (ASCII object keys, integers within ±2^53, no floats) sorted,
    compact orjson output is byte for byte the JCS form; `tests/integration/test_tamper.py` proves
    it against the reference implementation on real records.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def chain_record(
    *,
    position: int,
    subject: str,
    stream_version: int,
    source: str,
    event_id: str,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    data: Mapping[str, Any],
    metadata: Mapping[str, Any],
    prev_hash: bytes,
) -> dict[str, Any]:
    """The JSON object whose canonical form an event's hash covers."""
    return {
        "position": position,
        "subject": subject,
        "stream_version": stream_version,
        "source": source,
        "id": event_id,
        "type": event_type,
        "schema_version": schema_version,
        "time": iso(occurred_at),
        "recorded_at": iso(recorded_at),
        "data": dict(data),
        "metadata": dict(metadata),
        "prev": prev_hash.hex(),
    }


def link_hash(canonical: bytes) -> bytes:
    """The hash of one link of the chain."""
    return hashlib.sha256(canonical).digest()


@dataclass(slots=True)
class LinkTemplate:
    """The canonical bytes of an event's chain record, less the four values only the append
    lock knows: position, previous hash, `recorded_at` and stream version.

    Made before the lock is taken, so that under it a link is a concatenation and one hash;
    `tests/unit/test_chain_link.py` proves it equal to `canonical_json(chain_record(...))`.
    """

    head: bytes
    middle: bytes
    tail: bytes

    def link(
        self, *, position: int, prev_hash: bytes, recorded_at: bytes, stream_version: int
    ) -> bytes:
        """The canonical bytes; `recorded_at` is the JSON string of `iso(recorded_at)`."""
        return b"".join(
            (
                self.head,
                b"%d" % position,
                b',"prev":"',
                prev_hash.hex().encode(),
                b'","recorded_at":',
                recorded_at,
                self.middle,
                b"%d" % stream_version,
                self.tail,
            )
        )


def link_template(
    *,
    subject: str,
    source: str,
    event_id: str,
    event_type: str,
    schema_version: int,
    occurred_at: str,
    data: bytes,
    metadata: bytes,
) -> LinkTemplate:
    """The template of an event's link; `data` and `metadata` are their canonical JSON, and
    `occurred_at` is `iso` of the event's time. Keys appear in the sorted order JCS gives."""
    dumps = orjson.dumps
    return LinkTemplate(
        head=b'{"data":%b,"id":%b,"metadata":%b,"position":' % (data, dumps(event_id), metadata),
        middle=b',"schema_version":%d,"source":%b,"stream_version":'
        % (schema_version, dumps(source)),
        tail=b',"subject":%b,"time":%b,"type":%b}'
        % (dumps(subject), dumps(occurred_at), dumps(event_type)),
    )

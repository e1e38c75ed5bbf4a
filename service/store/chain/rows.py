"""Stored events as links of the hash chain: recompute a link's hash from its stored columns.

The chain's canonical form is RFC 8785 (`chain.canonical_json` of `chain.chain_record`).
For the values this service
stores (strings, integers, booleans, null; no floats; ASCII keys) orjson's sorted, compact output
is the same bytes and fifty times faster, so it is tried first; the RFC 8785 implementation
decides whenever a hash does not match (`tests/integration/test_tamper.py` checks the equality
on real records).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import rfc8785

from service.events.instants import as_stored
from service.store.chain.hashing import chain_record


def fast_canonical(record: Mapping[str, Any]) -> bytes:
    """Sorted, compact JSON: RFC 8785 output for data without floats or non-BMP keys."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One stored event with the columns its hash covers, and its stored hash."""

    position: int
    subject: str
    stream_version: int
    source: str
    event_id: str
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    data: Mapping[str, Any]
    metadata: Mapping[str, Any]
    hash: bytes

    def record(self, position: int, prev: bytes) -> dict[str, Any]:
        """The record the hash covers, had this row been stored at `position` after `prev`."""
        return chain_record(
            position=position,
            subject=self.subject,
            stream_version=self.stream_version,
            source=self.source,
            event_id=self.event_id,
            event_type=self.type,
            schema_version=self.schema_version,
            occurred_at=self.occurred_at,
            recorded_at=self.recorded_at,
            data=self.data,
            metadata=self.metadata,
            prev_hash=prev,
        )

    def fits(self, position: int, prev: bytes) -> bool:
        """Whether the stored hash is this row's link at `position` after the hash `prev`."""
        record = self.record(position, prev)
        with contextlib.suppress(orjson.JSONEncodeError):
            if hashlib.sha256(fast_canonical(record)).digest() == self.hash:
                return True
        try:
            return hashlib.sha256(rfc8785.dumps(record)).digest() == self.hash
        except rfc8785.CanonicalizationError:
            return False


def to_chain_row(row: Mapping[str, Any]) -> ChainRow:
    """A row of the events table (`data` and `metadata` as JSON text) as a link of the chain."""
    return ChainRow(
        position=row["position"],
        subject=row["subject"],
        stream_version=row["stream_version"],
        source=row["source"],
        event_id=row["event_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        # Read as stored: `-infinity` was written for year 1 by an earlier version, and hashed so.
        occurred_at=as_stored(row["occurred_at"]),
        recorded_at=row["recorded_at"],
        data=orjson.loads(row["data"]),
        metadata=orjson.loads(row["metadata"]),
        hash=bytes(row["hash"]),
    )

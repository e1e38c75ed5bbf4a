"""How a stored event looks in the global feed (`GET /v1/events` and its live stream)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from service.events.instants import as_stored
from service.store.chain.hashing import iso


def feed_item(row: Row[Any]) -> dict[str, Any]:
    """One stored event as the feed shows it (`GET /v1/events`).

    An event out of range, stored by an earlier version, shows the instant it was stored from
    (`-infinity` was written for 0001-01-01T00:00:00Z): the feed hides nothing of the log.
    """
    return {
        "specversion": "1.0",
        "id": row.event_id,
        "source": row.source,
        "type": row.type,
        "subject": row.subject,
        "time": iso(as_stored(row.occurred_at)),
        "datacontenttype": "application/json",
        "data": row.data,
        "position": row.position,
        "stream_version": row.stream_version,
        "recorded_at": iso(row.recorded_at),
        "schema_version": row.schema_version,
        "hash": bytes(row.hash).hex(),
    }

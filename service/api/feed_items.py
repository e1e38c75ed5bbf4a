"""How a stored event looks in the global feed (`GET /v1/events` and its live stream)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from service.store.chain import iso


def feed_item(row: Row[Any]) -> dict[str, Any]:
    """One stored event as the feed shows it (`GET /v1/events`)."""
    return {
        "specversion": "1.0",
        "id": row.event_id,
        "source": row.source,
        "type": row.type,
        "subject": row.subject,
        "time": iso(row.occurred_at),
        "datacontenttype": "application/json",
        "data": row.data,
        "position": row.position,
        "stream_version": row.stream_version,
        "recorded_at": iso(row.recorded_at),
        "schema_version": row.schema_version,
        "hash": bytes(row.hash).hex(),
    }

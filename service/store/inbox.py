"""The webhook inbox: authenticated vendor payloads that map to no contract event.

Rows are kept for inspection only; no projection reads them, so they never count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One kept payload and why it was not turned into an event."""

    id: int
    vendor: str
    key: str
    reason: str
    payload: Any
    received_at: datetime


@dataclass(frozen=True, slots=True)
class NewInboxItem:
    """A payload to keep."""

    key: str
    reason: str
    payload: Any


_KEEP = text(
    """
    INSERT INTO webhook_inbox (vendor, delivery_key, reason, payload)
    SELECT :vendor, k.key, k.reason, k.payload::jsonb
    FROM unnest(CAST(:keys AS text[]), CAST(:reasons AS text[]), CAST(:payloads AS text[]))
         AS k(key, reason, payload)
    ON CONFLICT (vendor, delivery_key) DO NOTHING
    RETURNING delivery_key
    """
)
_LIST = text(
    """
    SELECT id, vendor, delivery_key, reason, payload, received_at FROM webhook_inbox
    WHERE id > :after AND (CAST(:vendor AS text) IS NULL OR vendor = :vendor)
    ORDER BY id LIMIT :limit
    """
)


def _storable(value: str) -> str:
    """PostgreSQL text and jsonb cannot hold U+0000; keep the rest of the payload readable."""
    return value.replace("\\u0000", "\\ufffd").replace("\x00", "\ufffd")


class WebhookInbox:
    """Keeps and lists unmapped webhook payloads, once per (vendor, key)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def keep(self, vendor: str, items: Sequence[NewInboxItem]) -> int:
        """Store the items not kept before; how many were new."""
        if not items:
            return 0
        params = {
            "vendor": vendor,
            "keys": [_storable(item.key) for item in items],
            "reasons": [_storable(item.reason) for item in items],
            "payloads": [_storable(orjson.dumps(item.payload).decode()) for item in items],
        }
        async with self._engine.begin() as conn:
            return len((await conn.execute(_KEEP, params)).all())

    async def list(self, *, vendor: str | None, after: int, limit: int) -> list[InboxItem]:
        """Kept items after id `after`, oldest first, optionally of one vendor."""
        async with self._engine.connect() as conn:
            result = await conn.execute(_LIST, {"vendor": vendor, "after": after, "limit": limit})
            return [
                InboxItem(r.id, r.vendor, r.delivery_key, r.reason, r.payload, r.received_at)
                for r in result
            ]

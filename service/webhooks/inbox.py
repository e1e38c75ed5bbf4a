"""The webhook inbox: authenticated vendor payloads that map to no contract event.

Rows are kept for inspection and for replay once the mapping is fixed; no projection reads
them, so they never count. A replay that stores an item's events sets its `mapped_at`; one that
still cannot map it records the new reason.
"""

from __future__ import annotations

import builtins
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
    replayed_at: datetime | None = None
    mapped_at: datetime | None = None


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
_COLUMNS = "id, vendor, delivery_key, reason, payload, received_at, replayed_at, mapped_at"
_LIST = text(
    f"""
    SELECT {_COLUMNS} FROM webhook_inbox
    WHERE id > :after AND (CAST(:vendor AS text) IS NULL OR vendor = :vendor)
    ORDER BY id LIMIT :limit
    """
)
_WAITING = text(
    f"""
    SELECT {_COLUMNS} FROM webhook_inbox
    WHERE mapped_at IS NULL AND (CAST(:vendor AS text) IS NULL OR vendor = :vendor)
    ORDER BY id LIMIT :limit
    """
)
_ONE = text(f"SELECT {_COLUMNS} FROM webhook_inbox WHERE id = :id")
_MAPPED = text("UPDATE webhook_inbox SET replayed_at = now(), mapped_at = now() WHERE id = :id")
_STILL_UNMAPPED = text(
    "UPDATE webhook_inbox SET replayed_at = now(), reason = :reason WHERE id = :id"
)


def _item(row: Any) -> InboxItem:
    return InboxItem(
        row.id,
        row.vendor,
        row.delivery_key,
        row.reason,
        row.payload,
        row.received_at,
        row.replayed_at,
        row.mapped_at,
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
            return [_item(row) for row in result]

    async def waiting(self, *, vendor: str | None, limit: int) -> builtins.list[InboxItem]:
        """Items no replay has turned into events yet, oldest first, optionally of one vendor."""
        async with self._engine.connect() as conn:
            result = await conn.execute(_WAITING, {"vendor": vendor, "limit": limit})
            return [_item(row) for row in result]

    async def get(self, item_id: int) -> InboxItem | None:
        """One kept item, if there is one with this id."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_ONE, {"id": item_id})).first()
        return None if row is None else _item(row)

    async def mark_mapped(self, item_id: int) -> None:
        """A replay stored this item's events: it waits no more."""
        async with self._engine.begin() as conn:
            await conn.execute(_MAPPED, {"id": item_id})

    async def mark_unmapped(self, item_id: int, reason: str) -> None:
        """A replay still could not map this item: keep it, with why."""
        async with self._engine.begin() as conn:
            await conn.execute(_STILL_UNMAPPED, {"id": item_id, "reason": _storable(reason)})

"""When imported history of a period was recorded: what "as known then" cannot show before it.

`funnel-ledger import` stamps every event it appends with the actor `funnel-ledger import
<source>` in its metadata; `time` is when the CRM says it happened, `recorded_at` the import's.
The read starts from the period's flow facts (indexed by `occurred_at`) recorded after
`known_at`, and looks up their events by position until it finds an imported one, newest first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.projection.read_model_writer import LIVE, Tables

IMPORT_ACTOR = "funnel-ledger import"
"""The actor of every event an import appends, followed by its source (`salesforce`, …)."""


def import_actor(source: str) -> str:
    """The actor an import from `source` stamps on the events it appends."""
    return f"{IMPORT_ACTOR} {source}"


async def imported_after(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    tables: Tables = LIVE,
) -> datetime | None:
    """The newest `recorded_at` of imported history in [start, end) recorded after `known_at`.

    None when no fact of the period was imported after `known_at`. `recorded_at` grows with the
    position, so the imported fact of the highest position is the one recorded last.
    """
    result = await conn.execute(
        text(
            f"SELECT e.recorded_at FROM {tables.facts} f JOIN events e ON e.position = f.position "
            "WHERE f.occurred_at >= :start AND f.occurred_at < :end AND f.recorded_at > :known_at "
            "AND e.metadata->>'actor' LIKE :actor "
            "ORDER BY f.position DESC LIMIT 1"
        ),
        {"start": start, "end": end, "known_at": known_at, "actor": f"{IMPORT_ACTOR} %"},
    )
    recorded_at: datetime | None = result.scalar_one_or_none()
    return recorded_at

"""When the newest fact that counts happened: what the dashboard's default period falls back to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.instants import EARLIEST
from service.store.projection.read_model_writer import LIVE, Tables


async def latest_fact_before(
    conn: AsyncConnection, before: datetime, tables: Tables = LIVE
) -> datetime | None:
    """The latest `occurred_at` of an unretracted flow fact before `before`, if any.

    By valid time, not by log order: a late backfill of an old quarter does not make that
    quarter the newest. Rows out of the instant range (stored by an earlier version) never count.
    """
    result = await conn.execute(
        text(
            f"SELECT occurred_at FROM {tables.facts} WHERE retracted_at IS NULL "
            "AND occurred_at >= :earliest AND occurred_at < :before "
            "ORDER BY occurred_at DESC LIMIT 1"
        ),
        {"earliest": EARLIEST, "before": before},
    )
    latest: datetime | None = result.scalar_one_or_none()
    return latest

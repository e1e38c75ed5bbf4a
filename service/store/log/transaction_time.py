"""A transaction-time instant that no later append can fall at or before."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.log.appender import APPEND_LOCK

_SEAL = text("SELECT pg_advisory_xact_lock(:key), clock_timestamp() AS now")


async def sealed_now(engine: AsyncEngine) -> datetime:
    """Now, read under the append lock: every append still in flight has committed by then.

    Appends take `recorded_at` from the clock under the same lock, so every event stored later
    gets a later `recorded_at`: an answer at this `known_at` can be reproduced at any later time.
    """
    async with engine.begin() as conn:
        now: datetime = (await conn.execute(_SEAL, {"key": APPEND_LOCK})).one().now
    return now

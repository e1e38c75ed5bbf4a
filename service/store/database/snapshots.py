"""Read-only snapshots of the database: one consistent view for a whole audit walk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_SNAPSHOT = text("SELECT 1")


@asynccontextmanager
async def repeatable_read(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only, repeatable-read transaction: every statement sees the same snapshot."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        await conn.begin()
        await conn.execute(_SNAPSHOT)  # the snapshot is taken by the first statement: now
        try:
            yield conn
        finally:
            await conn.rollback()

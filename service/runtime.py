"""Opening the service's database outside the web app: embedded or `DATABASE_URL`, migrated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from service.embedded import EmbeddedPostgres
from service.settings import Settings
from service.store.database.engines import create_engine
from service.store.database.migrate import upgrade_to_head


@asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = True) -> AsyncIterator[AsyncEngine]:
    """An engine on the configured database, starting the embedded one when none is named."""
    embedded: EmbeddedPostgres | None = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir, settings.listen)
        url = await asyncio.to_thread(embedded.start)
    engine = create_engine(url, pool_size=settings.pool_size)
    try:
        if migrate:
            await upgrade_to_head(engine)
        yield engine
    finally:
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


@asynccontextmanager
async def open_read_engine(settings: Settings, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The read-only engine of the read routes: on `DATABASE_READ_URL`, else `engine` itself."""
    if settings.database_read_url is None:
        yield engine
        return
    replica = create_engine(
        settings.database_read_url, pool_size=settings.pool_size, read_only=True
    )
    try:
        yield replica
    finally:
        await replica.dispose()

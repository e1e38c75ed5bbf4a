"""Integration fixtures: an engine on a fresh migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.database.engines import create_engine


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, migrated database."""
    db = create_engine(database_url, pool_size=20)
    yield db
    await db.dispose()

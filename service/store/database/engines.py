"""Connections: one async SQLAlchemy engine over asyncpg per database URL."""

from __future__ import annotations

import orjson
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(database_url: str) -> URL:
    """The SQLAlchemy asyncpg URL for a `postgresql://` (or already asyncpg) URL."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+asyncpg")
    return url


def create_engine(
    database_url: str, *, pool_size: int = 10, read_only: bool = False
) -> AsyncEngine:
    """An engine with a bounded pool whose connections are checked before use."""
    server_settings = {"application_name": "funnel-ledger"}
    if read_only:
        # A read replica refuses writes anyway; a primary named by mistake must refuse them too.
        server_settings["default_transaction_read_only"] = "on"
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
        connect_args={"server_settings": server_settings},
    )

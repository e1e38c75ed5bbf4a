"""Test databases: a real PostgreSQL (embedded by default), one fresh database per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from service.embedded import EmbeddedPostgres
from service.store.database.engines import create_engine
from service.store.database.migrate import upgrade_to_head

SERVER_ENV = "FUNNEL_TEST_DATABASE_URL"
"""Set to a server's URL (any database on it) to test against it instead of the embedded one."""


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class TestServer:
    """A PostgreSQL server on which tests create and drop their own databases."""

    def __init__(self, data_dir: Path) -> None:
        self._embedded: EmbeddedPostgres | None = None
        given = os.environ.get(SERVER_ENV)
        if given:
            self.url = given
        else:
            self._embedded = EmbeddedPostgres(data_dir)
            self.url = self._embedded.start()
        self.template = f"funnel_tmpl_{uuid.uuid4().hex[:10]}"

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(with_database(self.url, "postgres")))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def prepare_template(self) -> None:
        """Create the template database and migrate it with Alembic."""
        await self._admin(f'CREATE DATABASE "{self.template}"')
        engine = create_engine(with_database(self.url, self.template), pool_size=1)
        await upgrade_to_head(engine)
        await engine.dispose()

    async def create_database(self, migrated: bool = True) -> str:
        """A fresh database (a copy of the migrated template, or empty); its URL."""
        name = f"funnel_test_{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{self.template}"' if migrated else ""
        await self._admin(f'CREATE DATABASE "{name}"{template}')
        return with_database(self.url, name)

    async def drop_database(self, url: str) -> None:
        """Drop a database made by `create_database`."""
        name = make_url(url).database
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def close(self) -> None:
        """Drop the template and stop an embedded server."""
        await self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        if self._embedded is not None:
            self._embedded.stop()

"""A BI login on the real PostgreSQL cannot write, even after leaving read-only mode, has no
temporary tables, and has its long statements and idle transactions cut off.

Roles are cluster-wide: each test makes a role with a unique name and drops it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.bi.roles import create_bi_role

pytestmark = pytest.mark.integration

PASSWORD = "bi-limits-Pw1"
TIMEOUT_SECONDS = 1


def _dsn(database_url: str, role: str) -> str:
    url = make_url(database_url).set(drivername="postgresql", username=role, password=PASSWORD)
    return url.render_as_string(hide_password=False)


async def _drop_role(engine: AsyncEngine, role: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP OWNED BY "{role}"'))
        await conn.execute(text(f'DROP ROLE "{role}"'))


@pytest.fixture
async def bi(engine: AsyncEngine, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a new BI role whose statements are cut off after a second."""
    role = f"bi_limits_{uuid.uuid4().hex[:10]}"
    await create_bi_role(engine, role, PASSWORD, "UTC", statement_timeout_seconds=TIMEOUT_SECONDS)
    conn = await asyncpg.connect(_dsn(database_url, role))
    try:
        yield conn
    finally:
        await conn.close()
        await _drop_role(engine, role)


WRITES = (
    "INSERT INTO public.events (position) VALUES (999)",
    "INSERT INTO reporting.events (position) VALUES (999)",
    "UPDATE public.api_keys SET name = 'x'",
    "DELETE FROM public.ended_sessions",
    "CREATE TABLE public.mine (x int)",
    "CREATE TABLE reporting.mine (x int)",
    "CREATE TEMP TABLE mine (x int)",
    "CREATE SCHEMA mine",
)


async def test_the_sessions_start_read_only(bi: asyncpg.Connection) -> None:
    assert await bi.fetchval("SHOW transaction_read_only") == "on"
    for statement in WRITES:
        with pytest.raises(asyncpg.PostgresError):
            await bi.execute(statement)


@pytest.mark.parametrize(
    "leave",
    [
        "SET default_transaction_read_only = off",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    ],
)
async def test_leaving_read_only_mode_gains_no_right_to_write(
    bi: asyncpg.Connection, leave: str
) -> None:
    # Given a session that turned read-only mode off, as any session may
    await bi.execute(leave)
    assert await bi.fetchval("SHOW transaction_read_only") == "off"
    # Then every write is still refused, and not by the read-only mode it left
    for statement in WRITES:
        with pytest.raises(asyncpg.PostgresError) as refused:
            await bi.execute(statement)
        assert not isinstance(refused.value, asyncpg.ReadOnlySQLTransactionError), statement
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await bi.execute("INSERT INTO public.events (position) VALUES (999)")


async def test_the_role_has_no_temporary_tables_and_creates_nothing(
    bi: asyncpg.Connection, engine: AsyncEngine
) -> None:
    role = await bi.fetchval("SELECT current_user")
    rights = await bi.fetchrow(
        "SELECT has_database_privilege(current_database(), 'TEMPORARY') AS temp, "
        "has_database_privilege(current_database(), 'CREATE') AS db_create, "
        "has_schema_privilege('public', 'CREATE') AS public_create, "
        "has_schema_privilege('reporting', 'CREATE') AS reporting_create"
    )
    assert dict(rights) == {
        "temp": False,
        "db_create": False,
        "public_create": False,
        "reporting_create": False,
    }
    # The service's own role keeps its temporary tables
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TEMP TABLE still_mine (x int) ON COMMIT DROP"))
    assert role.startswith("bi_limits_")


async def test_a_long_statement_is_cancelled_by_the_timeout(bi: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.QueryCanceledError):
        await bi.fetchval(f"SELECT pg_sleep({TIMEOUT_SECONDS * 5})")
    assert await bi.fetchval("SELECT 1") == 1  # the session itself goes on


async def test_an_idle_transaction_is_ended_by_the_timeout(bi: asyncpg.Connection) -> None:
    # A transaction left open would hold its snapshot and its connection for ever
    await bi.execute("BEGIN")
    await bi.fetchval("SELECT count(*) FROM reporting.deal_state_current")
    await asyncio.sleep(TIMEOUT_SECONDS * 3)
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
        await bi.fetchval("SELECT 1")


async def test_the_cli_sets_the_statement_timeout(engine: AsyncEngine, database_url: str) -> None:
    role = f"bi_cli_limits_{uuid.uuid4().hex[:10]}"
    command = [sys.executable, "-m", "service", "bi-role", "create", "--name", role]
    process = await asyncio.create_subprocess_exec(
        *command,
        "--password",
        PASSWORD,
        "--statement-timeout",
        "7",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    try:
        assert process.returncode == 0, err.decode()
        conn = await asyncpg.connect(_dsn(database_url, role))
        try:
            assert await conn.fetchval("SHOW statement_timeout") == "7s"
            assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "7s"
        finally:
            await conn.close()
    finally:
        await _drop_role(engine, role)

"""Read-only database logins for BI tools: SELECT on the `reporting` views, nothing else."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # matched whole, never before a newline
_FORMAT = text("SELECT format(:template, VARIADIC CAST(:args AS text[]))")
_IN_DATABASE = "ALTER ROLE %I IN DATABASE %I SET "
_EXISTS = text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :name)")


class RoleNameError(ValueError):
    """A role name that is not a plain lower-case SQL identifier."""


async def _run(conn: AsyncConnection, template: str, *args: str) -> None:
    # Role names and passwords cannot be bound parameters: quote them with format(%I, %L).
    statement = (
        await conn.execute(_FORMAT, {"template": template, "args": list(args)})
    ).scalar_one()
    await conn.execute(text(statement))


async def create_bi_role(engine: AsyncEngine, name: str, password: str, timezone: str) -> bool:
    """Create (or update: True if it existed) a login that can only read the reporting views."""
    if not ROLE_NAME.fullmatch(name):
        raise RoleNameError(
            "a role name is 1-63 lower-case letters, digits or _, not a digit first"
        )
    async with engine.begin() as conn:
        existed = bool((await conn.execute(_EXISTS, {"name": name})).scalar_one())
        verb = "ALTER" if existed else "CREATE"
        await _run(
            conn,
            f"{verb} ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE "
            "NOREPLICATION NOBYPASSRLS",
            name,
            password,
        )
        database = (await conn.execute(text("SELECT current_database()"))).scalar_one()
        await _run(conn, "GRANT CONNECT ON DATABASE %I TO %I", database, name)
        await _run(conn, _IN_DATABASE + "default_transaction_read_only = on", name, database)
        await _run(conn, _IN_DATABASE + "funnel.timezone = %L", name, database, timezone)
        for template in (
            "GRANT USAGE ON SCHEMA reporting TO %I",
            "GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO %I",
            "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO %I",
        ):
            await _run(conn, template, name)
    return existed

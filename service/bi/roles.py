"""Read-only database logins for BI tools: SELECT on the `reporting` views, nothing else.

A role's sessions default to read-only transactions, but a session may `SET` that off: what
holds is that the role has no right to write anything. It is granted SELECT on the views and
EXECUTE on their (read-only) functions only; PUBLIC loses TEMPORARY on the database and CREATE
on `public`, which every role would otherwise inherit. Its statements and idle transactions are
cut off after a timeout, so one dashboard query cannot hold a connection or a snapshot for ever.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # matched whole, never before a newline
_FORMAT = text("SELECT format(:template, VARIADIC CAST(:args AS text[]))")
_IN_DATABASE = "ALTER ROLE %I IN DATABASE %I SET "
_EXISTS = text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :name)")
DEFAULT_STATEMENT_TIMEOUT_SECONDS = 60


class RoleNameError(ValueError):
    """A role name that is not a plain lower-case SQL identifier."""


async def _run(conn: AsyncConnection, template: str, *args: str) -> None:
    # Role names and passwords cannot be bound parameters: quote them with format(%I, %L).
    statement = (
        await conn.execute(_FORMAT, {"template": template, "args": list(args)})
    ).scalar_one()
    await conn.execute(text(statement))


async def create_bi_role(
    engine: AsyncEngine,
    name: str,
    password: str,
    timezone: str,
    statement_timeout_seconds: int = DEFAULT_STATEMENT_TIMEOUT_SECONDS,
) -> bool:
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
        timeout = f"{statement_timeout_seconds}s"
        for setting in ("statement_timeout", "idle_in_transaction_session_timeout"):
            await _run(conn, _IN_DATABASE + setting + " = %L", name, database, timeout)
        # Privileges add up: a role keeps what PUBLIC has, so PUBLIC must lose what the BI
        # role must not have. The service's own role keeps TEMPORARY by its own grant.
        await _run(conn, "REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC", database)
        await _run(conn, "GRANT TEMPORARY ON DATABASE %I TO CURRENT_USER", database)
        await conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        for template in (
            "GRANT USAGE ON SCHEMA reporting TO %I",
            "GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO %I",
            "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO %I",
        ):
            await _run(conn, template, name)
    return existed

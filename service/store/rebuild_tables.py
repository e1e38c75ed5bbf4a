"""The rebuild's fresh tables: created bare, indexed after the bulk load, named like the live ones.

Loading into a table without indexes and building each index once afterwards is several times
faster than maintaining the indexes row by row. The indexes (and primary keys) are copied from
the live tables' own definitions, so the swapped-in tables have exactly the live shapes, and
`restore_index_names` gives them back the names the migrations created them with.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_INDEXES = text(
    "SELECT indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema() AND tablename = :table"
)
_CONSTRAINTS = text(
    "SELECT c.conname, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c "
    "JOIN pg_class t ON t.oid = c.conrelid "
    "WHERE t.relname = :table AND t.relnamespace = current_schema()::regnamespace "
    "AND c.contype IN ('p', 'u', 'x') ORDER BY c.conname"
)
MAINTENANCE_WORK_MEM = "256MB"
"""Memory for each index build: the largest rebuilt index then sorts in memory."""


async def create_bare(conn: AsyncConnection, live: str, fresh: str) -> None:
    """(Re)create `fresh` like `live`, with its columns, defaults and checks but no index."""
    await conn.execute(text(f"DROP TABLE IF EXISTS {fresh}"))
    await conn.execute(text(f"CREATE TABLE {fresh} (LIKE {live} INCLUDING ALL EXCLUDING INDEXES)"))


async def index_statements(conn: AsyncConnection, live: str, fresh: str) -> list[str]:
    """The statements that give `fresh` every index and key constraint `live` has.

    Key constraints come back as constraints (named by PostgreSQL as `LIKE … INCLUDING ALL`
    would name them); other indexes as unnamed `CREATE INDEX` on `fresh` of the same definition.
    """
    constraints = (await conn.execute(_CONSTRAINTS, {"table": live})).all()
    statements = [f"ALTER TABLE {fresh} ADD {row.definition}" for row in constraints]
    backing = {row.conname for row in constraints}
    for row in (await conn.execute(_INDEXES, {"table": live})).all():
        if row.indexname in backing:
            continue
        statement = row.indexdef.replace(f"INDEX {row.indexname} ON", "INDEX ON", 1)
        qualified = statement.replace(f".{live} ", f".{fresh} ", 1)
        statements.append(
            qualified if qualified != statement else statement.replace(f" {live} ", f" {fresh} ")
        )
    return statements


async def build_indexes(engine: AsyncEngine, statements: dict[str, list[str]]) -> None:
    """Run each table's index statements, tables side by side, then analyze and vacuum them.

    VACUUM (not only ANALYZE) sets the visibility map that the read queries' index-only scans
    over the covering indexes rely on.
    """

    async def one(table: str, ddl: list[str]) -> None:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
            try:
                for statement in ddl:
                    await conn.execute(text(statement))
                await conn.execute(text(f"VACUUM ANALYZE {table}"))
            finally:
                await conn.execute(text("RESET maintenance_work_mem"))

    async with asyncio.TaskGroup() as group:
        for table, ddl in statements.items():
            group.create_task(one(table, ddl))


def _shape(indexdef: str, index: str, table: str) -> str:
    """An index definition with its own and its table's names taken out."""
    return (
        indexdef.replace(f"INDEX {index} ON", "INDEX ON")
        .replace(f" {table} ", " ")
        .replace(f".{table} ", " ")
    )


async def index_names(conn: AsyncConnection, table: str) -> dict[str, str]:
    """Index shape → index name, for one table."""
    rows = await conn.execute(_INDEXES, {"table": table})
    return {_shape(row.indexdef, row.indexname, table): row.indexname for row in rows}


async def restore_index_names(conn: AsyncConnection, table: str, names: dict[str, str]) -> None:
    """Give the swapped-in table's indexes the names the migrations created them with."""
    for shape, current in (await index_names(conn, table)).items():
        wanted = names.get(shape)
        if wanted is not None and wanted != current:
            await conn.execute(text(f'ALTER INDEX "{current}" RENAME TO "{wanted}"'))

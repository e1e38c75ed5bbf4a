"""The read models' two generations: every table, column, key and index comes from the migrations,
a rebuild changes none of them, and the reporting views answer a BI login throughout a rebuild.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.datagen import Shape, batches, history
from service.bi.roles import create_bi_role
from service.events.envelope import parse_event
from service.store.database.engines import create_engine
from service.store.database.migrate import alembic_config
from service.store.log.appender import EventAppender
from service.store.projection import rebuild as rebuild_module
from service.store.projection.generations import live_partitions
from service.store.projection.projector import catch_up
from service.store.projection.rebuild import rebuild
from tests import databases
from tests.factories import ce, retraction
from tests.integration.test_rebuild import table_rows

pytestmark = pytest.mark.integration

PASSWORD = "generations-Pw1"
Schema = dict[str, list[tuple[object, ...]]]

# Columns in their order: a column dropped and added again (a downgrade, then an upgrade) leaves a
# gap in `ordinal_position`, which is no difference of shape.
_COLUMNS = (
    "SELECT table_name, row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position), "
    "column_name, data_type, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_schema = 'public' AND table_name LIKE 'rm\\_%'"
)
# Not-null constraints are left out: PostgreSQL 18 catalogues them under a name taken from the
# table they were first made on, which a migrated table keeps; nullability is compared through
# the columns instead.
_CONSTRAINTS = (
    "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname LIKE 'rm\\_%' AND c.contype <> 'n'"
)
_INDEXES = (
    "SELECT tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = 'public' AND tablename LIKE 'rm\\_%'"
)
_TABLES = (
    "SELECT c.relname, c.relkind::text, pg_get_partkeydef(c.oid) FROM pg_class c "
    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') "
    "AND c.relname LIKE 'rm\\_%'"
)
_ATTACHED = (
    "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
    "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE p.relname LIKE 'rm\\_%'"
)
_DEFINERS = (
    "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'reporting'::regnamespace "
    "AND p.prosecdef"
)


async def schema(engine: AsyncEngine) -> Schema:
    """The read models' tables, columns, keys, indexes (with their names) and attachments."""
    described: Schema = {}
    async with engine.connect() as conn:
        for name, query in (
            ("tables", _TABLES),
            ("columns", _COLUMNS),
            ("constraints", _CONSTRAINTS),
            ("indexes", _INDEXES),
            ("attached", _ATTACHED),
        ):
            rows = await conn.execute(text(query))
            described[name] = sorted((tuple(row) for row in rows), key=repr)
    return described


def shape(described: Schema) -> Schema:
    """Everything but which partition is attached to which parent."""
    return {name: rows for name, rows in described.items() if name != "attached"}


async def _project(engine: AsyncEngine, deals: int = 60, seed: int = 5) -> int:
    events = history(Shape(deals=deals, reps=6, teams=2), seed=seed)
    appender = EventAppender(engine)
    for batch in batches(events, 200):
        await appender.append([parse_event(raw) for raw in batch])
    return await catch_up(engine, batch_size=500)


async def test_a_rebuild_leaves_the_schema_the_migrations_created(engine: AsyncEngine) -> None:
    # Given a migrated database with projected read models
    migrated = await schema(engine)
    assert migrated["tables"], "the read models exist"
    partitions = [row for row in migrated["attached"] if row[2] is not None]
    assert len(partitions) == 8, "each of the four parents and its twin hold one"
    await _project(engine)
    projected = await table_rows(engine)
    async with engine.connect() as conn:
        first = await live_partitions(conn)
    # When the read models are rebuilt, twice
    await rebuild(engine)
    once = await schema(engine)
    async with engine.connect() as conn:
        second = await live_partitions(conn)
    await rebuild(engine)
    # Then each rebuild swapped the generations, and tables, columns, keys and indexes (names
    # included) are the migrations' own; after two swaps, the attachments are too
    assert set(first.all()).isdisjoint(second.all())
    assert shape(once) == shape(migrated)
    assert await schema(engine) == migrated
    assert await table_rows(engine) == projected


async def test_a_failed_rebuild_leaves_a_spare_the_next_one_reuses(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a rebuild that fails while loading the stripped spare
    await _project(engine, deals=20)
    projected = await table_rows(engine)
    migrated = await schema(engine)

    async def failing(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the fold failed")

    with monkeypatch.context() as patch:
        patch.setattr(rebuild_module, "rebuild_segments", failing)
        with pytest.raises(ExceptionGroup):
            await rebuild(engine)
    assert await table_rows(engine) == projected, "the live generation is untouched"
    # When the next rebuild runs, Then it reuses the bare spare and ends with the migrations' shape
    await rebuild(engine)
    assert shape(await schema(engine)) == shape(migrated)
    assert await table_rows(engine) == projected


async def _migrate(engine: AsyncEngine, verb: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    # Statements prepared before a column changed are invalid after: fresh connections.
    await engine.dispose()


async def _calls(engine: AsyncEngine) -> None:
    """Calls of every sort on one deal (connected, not, inbound, retracted), then projected."""
    calls = [
        ce("call.logged", "D-CALLS", "2026-02-01T09:00:00+00:00", data, id=f"call-{n}")
        for n, data in enumerate(
            [
                {"rep_id": "R-1", "direction": "outbound", "duration_s": 300, "outcome": "Reached"},
                {"rep_id": "R-1", "direction": "outbound", "duration_s": 20, "outcome": "Busy"},
                {"rep_id": "R-1", "direction": "outbound", "duration_s": 5},
                {"rep_id": "R-2", "direction": "inbound", "duration_s": 80, "outcome": "answered"},
                {"rep_id": "R-2", "direction": "outbound", "duration_s": 61, "outcome": "answered"},
            ]
        )
    ]
    undo = retraction("D-CALLS", "R-2", "2026-02-02T09:00:00+00:00", calls[-1], id="call-undo")
    await EventAppender(engine).append([parse_event(raw) for raw in (*calls, undo)])
    await catch_up(engine, batch_size=500)


async def test_the_migrations_keep_projected_rows_and_give_the_fresh_shape(
    test_server: databases.TestServer, engine: AsyncEngine
) -> None:
    fresh = await schema(engine)
    # Given a database of revision 0011 with read models projected (by the current projector,
    # then taken back to 0011: its call facts and their column go)
    url = await test_server.create_database(migrated=False)
    old = create_engine(url, pool_size=4)
    try:
        await _migrate(old, "upgrade", "head")
        await _project(old)
        await _calls(old)
        projected = await table_rows(old)
        assert any(row[2] == "call" for row in projected["rm_flow_facts"])
        await _migrate(old, "downgrade", "0011")
        before = await schema(old)
        at_0011 = await table_rows(old)
        assert not any(row[2] == "call" for row in at_0011["rm_flow_facts"])
        # When it is migrated to the generations and to calls
        await _migrate(old, "upgrade", "head")
        # Then the rows are what the projector wrote (0015 writes the call facts of the stored
        # events as the projector does), the shape is a fresh database's, and no definer
        # function is left
        assert await table_rows(old) == projected
        assert await schema(old) == fresh
        async with old.connect() as conn:
            assert not (await conn.execute(text(_DEFINERS))).all()
        # And a rebuild agrees; going back gives the previous shape with the same rows
        await rebuild(old)
        assert await table_rows(old) == projected
        await _migrate(old, "downgrade", "0011")
        assert await schema(old) == before
        assert await table_rows(old) == at_0011
    finally:
        await old.dispose()
        await test_server.drop_database(url)


def _dsn(database_url: str, role: str) -> str:
    url = make_url(database_url).set(drivername="postgresql", username=role, password=PASSWORD)
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def bi(engine: AsyncEngine, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a new BI role (roles are cluster-wide: a unique name, dropped after)."""
    role = f"bi_gen_{uuid.uuid4().hex[:10]}"
    await create_bi_role(engine, role, PASSWORD, "UTC")
    conn = await asyncpg.connect(_dsn(database_url, role))
    try:
        yield conn
    finally:
        await conn.close()
        async with engine.begin() as admin:
            await admin.execute(text(f'DROP OWNED BY "{role}"'))
            await admin.execute(text(f'DROP ROLE "{role}"'))


_VIEWS = (
    "SELECT * FROM reporting.deal_stage_history ORDER BY deal_id, valid_from",
    "SELECT * FROM reporting.deal_state_current ORDER BY deal_id",
)


async def _answers(bi: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    return [[tuple(row) for row in await bi.fetch(query)] for query in _VIEWS]


async def test_the_views_answer_a_bi_login_during_and_after_a_rebuild(
    engine: AsyncEngine, bi: asyncpg.Connection
) -> None:
    # Given projected read models, read by a BI login through the views alone
    await _project(engine, deals=120)
    async with engine.connect() as conn:
        assert not (await conn.execute(text(_DEFINERS))).all(), "no definer wrapper"
    expected = await _answers(bi)
    assert expected[0] and expected[1]
    # When a rebuild runs, the login asking again and again
    started = asyncio.Event()
    task = asyncio.create_task(rebuild(engine, chunk=50, progress=lambda *_: started.set()))
    await started.wait()
    during = 0
    while not task.done():
        assert await _answers(bi) == expected
        during += 1
    await task
    # Then every answer during it, and the one after, is the same
    assert during > 0
    assert await _answers(bi) == expected

"""A rebuild (bulk SQL and deal-by-deal folds) writes exactly what the live projector wrote."""

from __future__ import annotations

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.datagen import Shape, batches, history
from service.events.envelope import parse_event
from service.store.log.appender import EventAppender
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import LIVE
from service.store.projection.rebuild import rebuild
from service.store.projection.segment_rebuild import rebuild_segments

pytestmark = pytest.mark.integration


async def table_rows(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    rows: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as conn:
        for table in LIVE.all():
            result = await conn.execute(text(f"SELECT * FROM {table}"))
            rows[table] = sorted((tuple(row) for row in result), key=repr)
    return rows


async def index_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename LIKE 'rm\\_%'")
        )
        return {row.indexname for row in result}


@pytest.mark.parametrize("workers", [1, 3], ids=["in-process", "three-fold-processes"])
async def test_rebuild_equals_the_incremental_projection(engine: AsyncEngine, workers: int) -> None:
    # Given a realistic history (late events, retractions, teams) appended in batches
    appender = EventAppender(engine)
    events = history(Shape(deals=150, reps=8, teams=3), seed=11)
    for batch in batches(events, 97):
        await appender.append([parse_event(raw) for raw in batch])
    # When the projector catches up, and then the read models are rebuilt from scratch
    assert await catch_up(engine, batch_size=50) == len(events)
    projected = await table_rows(engine)
    indexes = await index_names(engine)
    report = await rebuild(engine, workers=workers)
    rebuilt = await table_rows(engine)
    # Then every read-model table holds exactly the same rows
    assert report.position == len(events)
    assert projected["rm_flow_facts"], "the history must produce flow facts"
    assert any(row[6] is not None for row in projected["rm_flow_facts"]), "and retractions"
    assert rebuilt == projected
    # And the swapped-in tables keep the index names later migrations refer to
    assert await index_names(engine) == indexes


async def test_a_failing_fold_process_fails_the_segments_and_leaves_none_behind(
    engine: AsyncEngine,
) -> None:
    appender = EventAppender(engine)
    await appender.append([parse_event(raw) for raw in history(Shape(deals=5), seed=3)[:50]])
    with pytest.raises(RuntimeError, match="segment worker failed"):
        await rebuild_segments(
            engine, 50, "no_such_table", chunk=100, advance=lambda _: None, workers=2
        )
    assert not psutil.Process().children(recursive=True)


async def test_a_rebuild_plans_its_statements_on_fresh_statistics_of_the_log(
    engine: AsyncEngine,
) -> None:
    # Given a log whose statistics say it is empty (as after a large import autovacuum has
    # not analyzed yet)
    await EventAppender(engine).append(
        [parse_event(raw) for raw in history(Shape(deals=20, reps=3, teams=1), seed=5)]
    )
    async with engine.connect() as conn:
        assert await _analyzed(conn) is None
    # When the read models are rebuilt
    await rebuild(engine)
    # Then the log was analyzed first
    async with engine.connect() as conn:
        assert await _analyzed(conn) is not None


async def _analyzed(conn: AsyncConnection) -> object:
    result = await conn.execute(
        text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'events'")
    )
    return result.scalar_one()

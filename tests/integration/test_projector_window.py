"""Far behind the head, the projector takes whole windows; it writes what batch by batch does."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.datagen import Shape, batches, history
from service.events.envelope import parse_event
from service.store.log.appender import EventAppender
from service.store.projection.history_cache import HistoryCache
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import LIVE, READ_MODELS
from tests.integration.test_rebuild import table_rows

pytestmark = pytest.mark.integration


async def forget_read_models(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(LIVE.all())}"))
        await conn.execute(
            text("UPDATE projection_checkpoints SET position = 0 WHERE name = :n"),
            {"n": READ_MODELS},
        )


async def test_window_rounds_equal_batch_rounds(engine: AsyncEngine) -> None:
    # Given a realistic history (late events, retractions, teams) appended in batches
    appender = EventAppender(engine)
    events = history(Shape(deals=150, reps=8, teams=3), seed=5)
    for batch in batches(events, 97):
        await appender.append([parse_event(raw) for raw in batch])
    # When it is projected batch by batch, then again from empty in windows of several batches
    assert await catch_up(engine, batch_size=50, far_behind=10**9) == len(events)
    batched = await table_rows(engine)
    await forget_read_models(engine)
    assert await catch_up(engine, batch_size=40, far_behind=100, window=333) == len(events)
    # Then every read-model table holds exactly the same rows
    assert batched["rm_deal_segments"], "the history must produce segments"
    assert await table_rows(engine) == batched


async def test_rounds_resuming_kept_histories_write_what_refolding_writes(
    engine: AsyncEngine,
) -> None:
    # Given a realistic history appended in batches of 97 (one step of knowledge each)
    appender = EventAppender(engine)
    events = history(Shape(deals=150, reps=8, teams=3), seed=11)
    for batch in batches(events, 97):
        await appender.append([parse_event(raw) for raw in batch])
    assert await catch_up(engine, batch_size=50, far_behind=10**9) == len(events)
    refolded = await table_rows(engine)
    assert refolded["rm_deal_segments"], "the history must produce segments"
    # When it is projected again from empty, in windows then batches of 37 that cut the
    # appends' steps, resuming the histories kept between rounds: all of them kept, most of
    # them forgotten, and a cache left from a projection the read models no longer reflect
    everything = HistoryCache(10**9)
    for histories in (everything, HistoryCache(60), everything):
        await forget_read_models(engine)
        projected = await catch_up(
            engine, batch_size=37, far_behind=200, window=150, histories=histories
        )
        assert projected == len(events)
        # Then every read-model table holds exactly the rows of refolding each deal's stream
        assert await table_rows(engine) == refolded
    assert 0 < len(everything) <= 150

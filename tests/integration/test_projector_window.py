"""Far behind the head, the projector takes whole windows; it writes what batch by batch does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.datagen import Shape, batches, history
from service.events.envelope import parse_event
from service.store.log.appender import EventAppender
from service.store.log.event_rows import fetch_batch
from service.store.log.recent import RecentEvents
from service.store.projection.history_cache import HistoryCache
from service.store.projection.projector import _FEED, catch_up
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


async def appended(
    appender: EventAppender, raws: list[dict[str, object]], size: int
) -> list[dict[str, object]]:
    """Append `raws` in batches of `size` (a step of knowledge each); return them."""
    for batch in batches(raws, size):
        await appender.append([parse_event(raw) for raw in batch])
    return raws


async def test_window_rounds_equal_batch_rounds(engine: AsyncEngine) -> None:
    # Given a realistic history (late events, retractions, teams) appended in batches
    events = await appended(EventAppender(engine), history(Shape(150, 8, 3), seed=5), 97)
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
    events = await appended(EventAppender(engine), history(Shape(150, 8, 3), seed=11), 97)
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


def with_offsets(raw_events: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every third event's `time` written at +08:00, the same instant."""
    shifted = []
    for index, raw in enumerate(raw_events):
        event = raw
        if index % 3 == 0:
            instant = datetime.fromisoformat(str(raw["time"]))
            event = {**raw, "time": instant.astimezone(timezone(timedelta(hours=8))).isoformat()}
        shifted.append(event)
    return shifted


async def test_events_handed_over_are_the_events_read_back(engine: AsyncEngine) -> None:
    # Given an appender that hands what it commits to a projector's `RecentEvents`
    recent = RecentEvents(10**6)
    recent.wanted = True
    appender = EventAppender(engine, recent=recent)
    events = await appended(appender, with_offsets(history(Shape(40, 4, 2), seed=3)), 33)
    # When the log is read back as the projector reads it
    async with engine.connect() as conn:
        read = await fetch_batch(conn, _FEED, 0, 10**6)
    handed = recent.batch(0, 10**6)
    # Then the handed-over events are those, field for field, data to the JSON type
    assert handed is not None
    count = len(events)
    assert (handed.read, handed.last_position) == (read.read, read.last_position) == (count, count)
    assert handed.events == read.events
    assert [orjson.dumps(e.data, option=orjson.OPT_SORT_KEYS) for e in handed.events] == [
        orjson.dumps(e.data, option=orjson.OPT_SORT_KEYS) for e in read.events
    ]
    assert all(e.occurred_at.tzinfo is UTC for e in handed.events)


@pytest.mark.parametrize("bound", [10**6, 150], ids=["all-handed", "newest-150-handed"])
async def test_rounds_on_handed_over_events_write_what_reading_the_log_writes(
    engine: AsyncEngine, bound: int
) -> None:
    # Given a history appended in batches, what is committed handed to a `RecentEvents`
    recent = RecentEvents(bound)
    recent.wanted = True
    appender = EventAppender(engine, recent=recent)
    events = await appended(appender, with_offsets(history(Shape(120, 6, 3), seed=13)), 89)
    assert len(recent) == min(bound, len(events))
    assert await catch_up(engine, batch_size=50, far_behind=10**9) == len(events)
    from_log = await table_rows(engine)
    assert from_log["rm_deal_segments"], "the history must produce segments"
    # When it is projected again from empty, taking what it can from the handed events
    await forget_read_models(engine)
    projected = await catch_up(
        engine,
        batch_size=37,
        far_behind=200,
        window=150,
        histories=HistoryCache(10**9),
        recent=recent,
    )
    # Then the handed events were taken (and let go), and the read models are the same
    assert projected == len(events)
    assert len(recent) <= 37
    assert await table_rows(engine) == from_log


async def test_appends_by_another_process_leave_a_gap_the_projector_reads_from_the_log(
    engine: AsyncEngine,
) -> None:
    # Given two appenders on one log, as two processes, only the first handing over its appends
    recent = RecentEvents(10**6)
    recent.wanted = True
    here, elsewhere = EventAppender(engine, recent=recent), EventAppender(engine)
    events = history(Shape(80, 5, 2), seed=17)
    parts = list(batches(events, 61))
    for index, batch in enumerate(parts):
        appender = elsewhere if index % 3 == 1 else here
        await appender.append([parse_event(raw) for raw in batch])
    # (so the run handed over starts after the last gap: only this process's last appends)
    assert 0 < len(recent) < len(events)
    assert await catch_up(engine, batch_size=50, far_behind=10**9) == len(events)
    from_log = await table_rows(engine)
    # When projected again from empty with what was handed over
    await forget_read_models(engine)
    projected = await catch_up(
        engine, batch_size=29, far_behind=10**9, histories=HistoryCache(10**9), recent=recent
    )
    # Then the read models are those read from the log alone
    assert projected == len(events)
    assert await table_rows(engine) == from_log
    assert len(recent) <= 29

"""The service's in-memory read models load in the background and answer as SQL does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.datagen import Shape, batches, history
from service.events.envelope import parse_event
from service.store.database.engines import create_engine
from service.store.log.appender import EventAppender
from service.store.mirror import columns as columns_module
from service.store.mirror import reads as mirrored_reads
from service.store.mirror.columns import Columns
from service.store.mirror.read_mirror import ReadMirror
from service.store.mirror.read_mirror import _loaded as loaded_columns
from service.store.projection import checkpoints
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import LIVE, READ_MODELS, Tables
from service.store.projection.rebuild import rebuild
from service.store.queries import scoreboard as scoreboard_query
from service.store.queries.teams import team_history_known_at
from tests.factories import qualified, signed, sourced, visit

pytestmark = pytest.mark.integration

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4)
    yield engine
    await engine.dispose()


async def _append(engine: AsyncEngine, raws: list[dict[str, object]]) -> None:
    now = datetime.now(UTC)
    await EventAppender(engine).append([parse_event(raw, now=now) for raw in raws])
    await catch_up(engine, 100)


async def _position(conn: AsyncConnection) -> int:
    return (await checkpoints.load(conn, READ_MODELS)).position


async def _both(conn: AsyncConnection, mirror: ReadMirror) -> tuple[object, object]:
    """The rep scoreboard of 2026-Q1 through the mirror (or SQL) and through SQL alone."""
    now = datetime.now(UTC)
    history = await team_history_known_at(conn, now)
    through = await mirrored_reads.scoreboard(
        conn,
        mirror,
        await _position(conn),
        start=START,
        end=END,
        known_at=now,
        group_by="rep",
        history=history,
    )
    sql = await scoreboard_query.scoreboard(
        conn, start=START, end=END, known_at=now, group_by="rep"
    )
    return through.to_json(), sql.to_json()


async def test_a_full_load_runs_in_the_background_while_sql_answers(engine: AsyncEngine) -> None:
    # Given a log with deals in 2026-Q1, projected
    await _append(
        engine,
        [
            sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
            visit("D-1", "R-1", "2026-01-06T09:00:00Z"),
            qualified("D-1", "R-1", "2026-01-07T09:00:00Z"),
            signed("D-1", "R-1", "2026-02-01T09:00:00Z"),
            sourced("D-2", "R-2", "2026-02-05T09:00:00Z"),
        ],
    )
    mirror = ReadMirror(engine)
    async with engine.connect() as conn:
        position = await _position(conn)
        # When the empty mirror is first asked, it answers None (SQL serves) and starts loading
        assert await mirror.columns_at(conn, position) is None
        assert mirror.loading
    await mirror.settled()
    # Then it holds that position and answers from memory what SQL answers
    assert mirror.position == position
    async with engine.connect() as conn:
        assert await mirror.columns_at(conn, position) is not None
        ours, sql = await _both(conn, mirror)
        assert ours == sql
    # And later events are brought in incrementally, without another full load
    await _append(engine, [signed("D-2", "R-2", "2026-03-01T09:00:00Z")])
    async with engine.connect() as conn:
        later = await _position(conn)
        assert await mirror.columns_at(conn, later) is not None
        assert not mirror.loading
        ours, sql = await _both(conn, mirror)
        assert ours == sql
    await mirror.close()


async def test_a_deal_signed_again_is_worth_its_latest_signing_by_time_then_position(
    engine: AsyncEngine,
) -> None:
    # Given deals signed more than once in 2026-Q1: D-1 again later by another rep, D-2 twice
    # at one instant (the later position wins), D-3 last by a signing that arrived first
    await _append(
        engine,
        [
            sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
            signed("D-1", "R-1", "2026-02-01T09:00:00Z", amount="100.00"),
            signed("D-1", "R-2", "2026-02-10T09:00:00Z", amount="250.00"),
            sourced("D-2", "R-1", "2026-01-05T09:00:00Z"),
            signed("D-2", "R-1", "2026-02-03T09:00:00Z", amount="300.00"),
            signed("D-2", "R-1", "2026-02-03T09:00:00Z", amount="50.00", id="again"),
            sourced("D-3", "R-3", "2026-01-05T09:00:00Z"),
            signed("D-3", "R-3", "2026-03-05T09:00:00Z", amount="70.00"),
        ],
    )
    await _append(engine, [signed("D-3", "R-3", "2026-03-01T09:00:00Z", amount="999.00")])
    mirror = ReadMirror(engine)
    async with engine.connect() as conn:
        await mirror.columns_at(conn, await _position(conn))
    await mirror.settled()
    async with engine.connect() as conn:
        assert await mirror.columns_at(conn, await _position(conn)) is not None
        ours, sql = await _both(conn, mirror)
    # Then each rep's value is its own latest signing of each deal, and the total each deal's
    # latest: 250 + 50 + 70, in memory as in SQL
    assert ours == sql
    assert isinstance(ours, dict)
    values = {row["key"]: row["closed_value"] for row in ours["rows"]}
    assert values == {"R-1": {"TWD": "150.00"}, "R-2": {"TWD": "250.00"}, "R-3": {"TWD": "70.00"}}
    assert ours["totals"]["closed_value"] == {"TWD": "370.00"}
    await mirror.close()


def _deals(first: int, count: int) -> list[dict[str, object]]:
    """Two events for each of `count` deals numbered from `first`, in 2026-Q1."""
    raws: list[dict[str, object]] = []
    for number in range(first, first + count):
        rep = f"R-{number % 3}"
        raws.append(sourced(f"D-{number}", rep, "2026-01-05T09:00:00Z"))
        raws.append(signed(f"D-{number}", rep, "2026-02-01T09:00:00Z", amount=f"{number}.25"))
    return raws


async def test_a_following_copy_takes_a_bulk_append_without_a_full_reload(
    engine: AsyncEngine,
) -> None:
    # Given a following copy, loaded, that would reload everything past one event if asked
    await _append(engine, _deals(0, 3))
    mirror = ReadMirror(engine, reload_beyond=1, follow_seconds=0.02, follow_beyond=0)
    mirror.follow()
    await mirror.loaded_once()
    assert mirror.warm
    try:
        # When far more events than that are appended and projected
        await _append(engine, _deals(3, 60))
        async with engine.connect() as conn:
            target = await _position(conn)
        # Then the follower brings the copy there by refreshing the deals touched, never by a
        # full load (which would leave the copy cold and the reads to SQL)
        for _ in range(500):
            assert not mirror.loading
            if mirror.position == target:
                break
            await asyncio.sleep(0.02)
        assert mirror.position == target
        async with engine.connect() as conn:
            assert await mirror.columns_at(conn, target) is not None
            ours, sql = await _both(conn, mirror)
        assert ours == sql
    finally:
        await mirror.close()


async def test_a_rebuild_preloads_the_copy_so_no_read_falls_back_to_sql(
    engine: AsyncEngine,
) -> None:
    # Given a loaded copy of the live generation
    await _append(engine, _deals(0, 5))
    mirror = ReadMirror(engine)
    mirror.start_load()
    await mirror.settled()
    before = mirror.position

    # When the read models are rebuilt, the copy preloading the new generation before the swap
    # (and an event arriving in between, which the swap catches up)
    async def preload(spare: Tables, position: int) -> None:
        await mirror.preload(engine, spare, position)
        await EventAppender(engine).append(
            [parse_event(raw, now=datetime.now(UTC)) for raw in _deals(5, 1)]
        )

    report = await rebuild(engine, before_swap=preload)
    assert before is not None and report.position > before
    # Then the first read after the swap is answered from memory, with no full load started,
    # and equal to SQL on the new generation
    async with engine.connect() as conn:
        assert await _position(conn) == report.position
        assert await mirror.columns_at(conn, report.position) is not None
        assert not mirror.loading
        assert mirror.position == report.position
        ours, sql = await _both(conn, mirror)
    assert ours == sql
    await mirror.close()


def _rows(columns: Columns) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every row of both tables, codes turned back into ids, in one order."""
    facts, segments = columns.facts, columns.segments
    fact_rows = [
        (
            *(getattr(facts, name)[i].item() for name in ("position", "kind", "occurred")),
            *(getattr(facts, name)[i].item() for name in ("recorded", "retracted", "visit")),
            *(getattr(facts, name)[i].item() for name in ("measure", "units", "exponent")),
            bool(facts.repeats_for_rep[i]),
            bool(facts.repeats_for_deal[i]),
            columns.deals.name(int(facts.deal[i])),
            columns.reps.name(int(facts.rep[i])),
            facts.currency_number[i].item(),
            facts.odd_money.get(facts.position[i].item()),
        )
        for i in range(len(facts.position))
    ]
    segment_rows = [
        (
            columns.deals.name(int(segments.deal[i])),
            *(getattr(segments, name)[i].item() for name in ("valid_from", "valid_to")),
            *(getattr(segments, name)[i].item() for name in ("known_from", "known_to", "stage")),
            columns.reps.name(int(segments.owner[i])),
        )
        for i in range(len(segments.deal))
    ]
    return sorted(fact_rows, key=repr), sorted(segment_rows, key=repr)


async def test_a_load_page_by_page_holds_every_row_once(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a realistic history (late events, retractions, several segments a deal), projected
    appender = EventAppender(engine)
    events = history(Shape(deals=60, reps=5, teams=2), seed=2)
    for batch in batches(events, 100):
        await appender.append([parse_event(raw) for raw in batch])
    await catch_up(engine, 500)
    # When the copy is loaded in one statement per table, then in pages of 7 rows
    loads = []
    for page_rows in (10**9, 7):
        monkeypatch.setattr(columns_module, "PAGE_ROWS", page_rows)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                loads.append(await loaded_columns(conn, LIVE))
    # Then both hold the same rows, each once, in many pages
    one_page, pages = (_rows(load) for load in loads)
    assert len(one_page[0]) > 70 and len(one_page[1]) > 70
    assert pages == one_page

"""The database's `rules` tables hold the rule table, and the reporting views count by them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import parse_event
from service.projections import compute_scoreboard, is_deal, visible
from service.projections.facts import flow_fact
from service.projections.rules import RULES
from service.store.database.engines import create_engine
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from service.store.projection.projector import catch_up
from service.store.projection.rebuild import rebuild
from tests import databases
from tests.histories import Delivery, deliveries
from tests.integration.test_rebuild import table_rows

pytestmark = pytest.mark.integration

PROPERTY = settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_FLOWS = ("closed_deals", "committed_deals", "opportunities", "leads", "client_visits")
_SPLIT = ("fsi_visits", "fua_visits")


async def _rows(engine: AsyncEngine, table: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(f"SELECT * FROM {table}"))]


async def test_the_rules_tables_hold_the_rule_table(engine: AsyncEngine) -> None:
    for table, rows in RULES.seed_rows().items():
        assert sorted(await _rows(engine, table)) == sorted(rows), table


async def test_the_rules_tables_survive_a_rebuild(engine: AsyncEngine) -> None:
    await rebuild(engine)
    for table, rows in RULES.seed_rows().items():
        assert sorted(await _rows(engine, table)) == sorted(rows), table


async def _daily(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT * FROM reporting.scoreboard_daily"))
        return [dict(row._mapping) for row in result]


async def _facts(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text("SELECT position, kind, amount, currency, visit_kind FROM reporting.flow_facts")
        )
        return sorted(tuple(row) for row in result)


def _day_start(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@PROPERTY
@given(delivery=deliveries(max_events=20))
async def test_the_daily_view_counts_as_the_fold(
    test_server: databases.TestServer, delivery: Delivery
) -> None:
    url = await test_server.create_database()
    engine = create_engine(url, pool_size=2)
    try:
        for batch in delivery:
            await EventAppender(engine).append([parse_event(raw) for raw in batch])
        await catch_up(engine, 50)
        log = [event async for event in EventReader(engine).iterate()]
        known = visible(log, as_of=None, known_at=None)
        folded = [f for f in (flow_fact(e) for e in known if is_deal(e.subject)) if f is not None]
        # Every counting event, with its kind, money and visit split (the session's zone is UTC).
        assert await _facts(engine) == sorted(
            (
                f.position,
                f.kind,
                None if f.amount is None else Decimal(f.amount),
                f.currency,
                f.visit_kind,
            )
            for f in folded
        )
        daily = await _daily(engine)
        # A rep whose team changed within a day has a row per team; compare the other days.
        rows = Counter((row["day"], row["rep_id"]) for row in daily)
        for row in daily:
            if rows[(row["day"], row["rep_id"])] > 1:
                continue
            start = _day_start(row["day"])
            board = compute_scoreboard(
                log, start=start, end=start + timedelta(days=1), known_at=None, group_by="rep"
            ).to_json()
            expected = next(r for r in board["rows"] if r["key"] == row["rep_id"])
            assert {n: row[n] for n in (*_FLOWS, *_SPLIT)} == {
                n: expected[n] for n in (*_FLOWS, *_SPLIT)
            }
        days = {(_day_start(r["day"]), r["rep_id"]) for r in daily}
        assert days == {
            (_day_start(f.occurred_at.astimezone(UTC).date()), f.rep_id) for f in folded
        }
    finally:
        await engine.dispose()
        await test_server.drop_database(url)


@PROPERTY
@given(delivery=deliveries(max_events=20))
async def test_a_rebuild_writes_what_the_projector_wrote(
    test_server: databases.TestServer, delivery: Delivery
) -> None:
    # The rebuild's bulk SQL (kinds, money and split rendered from the table) and the
    # projector's per-event rows (from `flow_fact`) agree, whatever the table says.
    url = await test_server.create_database()
    engine = create_engine(url, pool_size=3)
    try:
        for batch in delivery:
            await EventAppender(engine).append([parse_event(raw) for raw in batch])
        await catch_up(engine, 50)
        projected = await table_rows(engine)
        await rebuild(engine, workers=1)
        assert await table_rows(engine) == projected
    finally:
        await engine.dispose()
        await test_server.drop_database(url)

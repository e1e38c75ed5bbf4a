"""Loading the demo through the ingestion path, into a real PostgreSQL: once and only once."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from service.application.demo_load import load
from service.cli import app as cli
from service.demo import generate
from service.store.log.appender import EventAppender

pytestmark = pytest.mark.integration


async def _count(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM events"))).scalar_one())


async def test_loading_twice_stores_the_demo_once(engine):
    events = generate(seed=5, reps=4, quarter="2025-Q4", deals=60)
    appender = EventAppender(engine)

    first = await load(appender, events, batch_size=97)
    second = await load(appender, events, batch_size=500)

    assert (first.created, first.duplicates) == (len(events), 0)
    assert (second.created, second.duplicates) == (0, len(events))
    assert await _count(engine) == len(events)


async def test_the_log_keeps_the_load_order_with_late_events_last(engine):
    events = generate(seed=5, reps=4, quarter="2025-Q4", deals=60)
    await load(EventAppender(engine), events)
    async with engine.connect() as conn:
        ids = (await conn.execute(text("SELECT event_id FROM events ORDER BY position"))).scalars()
        assert list(ids) == [e["id"] for e in events]
        source = await conn.execute(text("SELECT DISTINCT source, metadata->>'actor' FROM events"))
        assert source.all() == [("demo", "funnel-ledger demo")]


def test_the_demo_command_loads_a_quarter_idempotently(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    arguments = ["demo", "--seed", "3", "--reps", "4", "--quarter", "2025-Q4"]

    first = runner.invoke(cli, arguments)
    again = runner.invoke(cli, arguments)

    assert first.exit_code == 0, first.output
    assert "events stored, 0 already there" in first.output
    assert again.exit_code == 0, again.output
    assert " 0 events stored" in again.output


def test_the_demo_command_refuses_a_quarter_that_has_not_ended(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(cli, ["demo", "--quarter", "2199-Q1"])
    assert result.exit_code == 2
    assert "has not ended" in result.output

"""A projector SIGKILLed in the middle of a batch resumes and applies nothing twice."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import parse_event
from service.projections import compute_funnel, compute_scoreboard
from service.projections.facts import flow_fact
from service.store.database.engines import create_engine
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import LIVE, READ_MODELS
from service.store.projection.rebuild import rebuild
from service.store.queries import scoreboard as scoreboard_query
from tests.reliability.checks import GROUPS
from tests.reliability.harness import ROOT
from tests.reliability.workload import QUARTER, batches

pytestmark = pytest.mark.reliability

EVENTS = 5000
BATCH = 500
KILLS = 5
_WRITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database."""
    db = create_engine(database_url, pool_size=2)
    yield db
    await db.dispose()


async def _fill(engine: AsyncEngine) -> None:
    appender = EventAppender(engine)
    for batch in itertools.islice(batches("big", size=1000), EVENTS // 1000):
        await appender.append([parse_event(raw) for raw in batch])


def _projector(url: str) -> subprocess.Popen[bytes]:
    module = "tests.reliability.projector_process"
    return subprocess.Popen(
        [sys.executable, "-m", module, url, str(BATCH)], cwd=ROOT, stdin=subprocess.DEVNULL
    )


async def _kill_mid_batch(engine: AsyncEngine, process: subprocess.Popen[bytes], after: int) -> int:
    """Once the checkpoint passed `after`, SIGKILL the projector mid-batch; the checkpoint then."""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            async with engine.connect() as conn:
                position = (await checkpoints.load(conn, READ_MODELS)).position
                # An xid: the projector's open transaction has written rows not yet committed.
                if position > after and (await conn.execute(_WRITING)).scalar_one():
                    break
            await asyncio.sleep(0.002)
        else:
            raise AssertionError("the projector was never caught in the middle of a batch")
    finally:
        process.kill()
        process.wait(10)
    return await checkpoints.position(engine, READ_MODELS)


async def _tables(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        return {
            table: sorted(
                (tuple(row) for row in await conn.execute(text(f"SELECT * FROM {table}"))), key=repr
            )
            for table in LIVE.all()
        }


async def test_projector_killed_mid_batch_applies_nothing_twice(
    database_url: str, engine: AsyncEngine
) -> None:
    # Given a long log and no read models yet
    await _fill(engine)
    head = await EventReader(engine).head()
    # When a projector process is SIGKILLed in the middle of a batch, again and again
    positions = [0]
    for _ in range(KILLS):
        positions.append(await _kill_mid_batch(engine, _projector(database_url), positions[-1]))
    assert positions == sorted(set(positions)), "the checkpoint did not move on"
    assert positions[-1] < head, "the projector finished before the last kill"
    # And a last one runs to the end
    finisher = _projector(database_url)
    assert await asyncio.to_thread(finisher.wait, 120) == 0
    # Then the read models hold each event once and equal the pure fold of the log
    assert await checkpoints.position(engine, READ_MODELS) == head
    log = [event async for event in EventReader(engine).iterate()]
    tables = await _tables(engine)
    facts = [row[0] for row in tables["rm_flow_facts"]]
    assert sorted(facts) == [e.position for e in log if flow_fact(e) is not None]
    segments = tables["rm_deal_segments"]
    assert len(segments) == len(set(segments)), "a deal segment was written twice"
    start, end = QUARTER
    now = datetime.now(UTC)
    async with engine.connect() as conn:
        for group_by in GROUPS:
            stored = await scoreboard_query.scoreboard(
                conn, start=start, end=end, known_at=now, group_by=group_by
            )
            folded = compute_scoreboard(log, start=start, end=end, known_at=now, group_by=group_by)
            assert stored.to_json() == folded.to_json()
        funnel = await scoreboard_query.funnel(conn, as_of=end, known_at=now, rep_id=None)
        assert funnel == compute_funnel(log, as_of=end, known_at=now, rep_id=None)
    # And a rebuild from scratch gives exactly the same tables
    await rebuild(engine)
    assert await _tables(engine) == tables

"""Several service processes on one database: one global order, one projector, fast failover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.keys.api_keys import Scope
from service.store.database.engines import create_engine
from service.store.projection.projector import PROJECTOR_LOCK
from tests.reliability.checks import (
    assert_exactly_once,
    assert_read_models_match_fold,
    read_feed,
    recorded,
)
from tests.reliability.harness import ServiceProcess, bearer, issue_token
from tests.reliability.workload import Writer, batches

pytestmark = pytest.mark.reliability

PROCESSES = 3
LOAD_SECONDS = 4
TAKEOVER_SECONDS = 5
_LOCK_HOLDERS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND objid = :key AND database = (SELECT oid FROM pg_database "
    "WHERE datname = current_database())"
)


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[list[ServiceProcess]]:
    """Three service processes on the same database."""
    processes = [
        ServiceProcess({"DATABASE_URL": database_url}, tmp_path / f"service-{n}.log")
        for n in range(PROCESSES)
    ]
    try:
        await asyncio.gather(*(p.start() for p in processes))
        yield processes
    finally:
        for process in processes:
            process.stop()


async def _leaders(http: httpx.AsyncClient, alive: list[ServiceProcess], token: str) -> list[int]:
    """The indexes (in `alive`) of the processes that say they run the projector."""
    answers = await asyncio.gather(
        *(http.get(f"{p.base}/v1/admin/projection", headers=bearer(token)) for p in alive)
    )
    return [n for n, answer in enumerate(answers) if answer.json()["leader_here"]]


async def _lock_holders(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(_LOCK_HOLDERS, {"key": PROJECTOR_LOCK})).scalar_one())


async def _load(
    http: httpx.AsyncClient,
    alive: list[ServiceProcess],
    token: str,
    prefix: str,
    engine: AsyncEngine,
) -> list[Writer]:
    """Two writers per process for a while; meanwhile exactly one projector holds the lock."""
    stop = asyncio.Event()
    writers = [Writer(http, p.base, token) for p in alive for _ in range(2)]
    tasks = [
        asyncio.create_task(w.stream(batches(f"{prefix}{n}", size=5), stop))
        for n, w in enumerate(writers)
    ]
    deadline = time.monotonic() + LOAD_SECONDS
    while time.monotonic() < deadline:
        assert await _lock_holders(engine) == 1
        assert len(await _leaders(http, alive, token)) == 1
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*tasks)
    return writers


async def _seconds_until_leader(
    http: httpx.AsyncClient, alive: list[ServiceProcess], token: str
) -> float:
    started = time.monotonic()
    while not await _leaders(http, alive, token):
        assert time.monotonic() - started < 30, "no process runs the projector"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_processes_share_one_order_and_one_projector(
    database_url: str, services: list[ServiceProcess]
) -> None:
    token = await issue_token(database_url, {Scope.ADMIN})
    engine = create_engine(database_url, pool_size=1)
    try:
        async with asyncio.timeout(120), httpx.AsyncClient(timeout=10) as http:
            # Given three processes all appending at once (exactly one projects meanwhile)
            await _seconds_until_leader(http, services, token)
            writers = await _load(http, services, token, "a", engine)
            # When the process running the projector is SIGKILLed
            leader = services[(await _leaders(http, services, token))[0]]
            leader.kill()
            survivors = [p for p in services if p is not leader]
            # Then another takes over within seconds, and stays the only one
            assert await _seconds_until_leader(http, survivors, token) < TAKEOVER_SECONDS
            writers += await _load(http, survivors, token, "b", engine)
            # And the global feed has no gap and holds every acknowledged event once
            base = survivors[0].base
            feed = await read_feed(http, base, token)
            assert_exactly_once(feed, [key for w in writers for key in w.acknowledged])
            assert len(feed) == len({key for w in writers for key in w.acknowledged})
            # And the read models, written by two successive leaders, equal the fold
            await assert_read_models_match_fold(http, base, token, [recorded(e) for e in feed])
    finally:
        await engine.dispose()

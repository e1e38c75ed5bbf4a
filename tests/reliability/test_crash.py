"""A service process SIGKILLed and restarted 20 times under load loses and doubles nothing."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import httpx
import pytest

from service.keys.api_keys import Scope
from tests.reliability.checks import (
    assert_exactly_once,
    assert_read_models_match_fold,
    read_feed,
    recorded,
)
from tests.reliability.harness import ServiceProcess, issue_token
from tests.reliability.workload import Writer, batches

pytestmark = pytest.mark.reliability

KILLS = 20
WRITERS = 3


async def test_acknowledged_events_survive_sigkill_restarts(
    database_url: str, tmp_path: Path
) -> None:
    # Given a real service process and three clients streaming batches, retrying until acked
    token = await issue_token(database_url, {Scope.ADMIN})
    service = ServiceProcess({"DATABASE_URL": database_url}, tmp_path / "service.log")
    await service.start()
    rng = random.Random(20)
    stop = asyncio.Event()
    try:
        async with asyncio.timeout(300), httpx.AsyncClient(timeout=10) as http:
            writers = [Writer(http, service.base, token) for _ in range(WRITERS)]
            streams = [
                asyncio.create_task(w.stream(batches(f"w{n}", size=12), stop))
                for n, w in enumerate(writers)
            ]
            # When the service is SIGKILLed at random moments and restarted, 20 times
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.1, 0.5))
                service.kill()
                await service.start()
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*streams), 120)
            feed = await read_feed(http, service.base, token)
            # Then every acknowledged event is stored exactly once, with no gap
            acknowledged = {key for w in writers for key in w.acknowledged}
            assert acknowledged == {key for w in writers for key in w.sent}
            retries = sum((w.retries for w in writers), Counter[str]())
            assert retries.total() >= KILLS
            # (some requests were cut in flight: their outcome was unknown until re-sent)
            assert retries.total() > retries["ConnectError"], retries
            assert_exactly_once(feed, acknowledged)
            positions = {(e["source"], e["id"]): e["position"] for e in feed}
            assert positions == {key: p for w in writers for key, p in w.acknowledged.items()}
            # And the read models converge to the pure fold of the log
            await assert_read_models_match_fold(
                http, service.base, token, [recorded(e) for e in feed]
            )
    finally:
        stop.set()
        service.stop()

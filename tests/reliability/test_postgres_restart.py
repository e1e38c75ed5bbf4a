"""PostgreSQL restarting under load: honest `503`s while it is gone, then recovery on its own."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from service.api.app import create_app
from service.keys.api_keys import Scope
from tests.conftest import make_settings
from tests.reliability.checks import (
    assert_exactly_once,
    assert_read_models_match_fold,
    assert_retryable_problem,
    read_feed,
    recorded,
)
from tests.reliability.harness import bearer
from tests.reliability.postgres import PrivatePostgres
from tests.reliability.workload import Reader, Writer, batches

pytestmark = [pytest.mark.reliability, pytest.mark.private_server]

BASE = "http://testserver"
DOWN_SECONDS = 1.5
RECOVERY_SECONDS = 15


async def _outage(server: PrivatePostgres, mode: str) -> float:
    """Stop the server, leave it down a while, start it; the instant it is back."""
    await asyncio.to_thread(server.stop, mode)
    await asyncio.sleep(DOWN_SECONDS)
    await asyncio.to_thread(server.start)
    return time.monotonic()


async def _first_success(writer: Writer, reader: Reader, since: float) -> float:
    """Seconds from `since` until a write and a strongly consistent read both succeed."""
    probe = [event for batch in [next(batches("probe", size=1))] for event in batch]
    while True:
        response = await writer.http.post(
            f"{writer.base}/v1/events", json=probe, headers=bearer(writer.token)
        )
        read = await reader.http.get(
            f"{reader.base}/v1/scoreboard",
            params={"from": "2026-01-01", "to": "2026-04-01"},
            headers=bearer(reader.token),
        )
        if response.status_code in (200, 201) and read.status_code == 200:
            return time.monotonic() - since
        await asyncio.sleep(0.1)


async def test_database_restarts_answer_503_then_recover(private_pg: PrivatePostgres) -> None:
    # Given the service on a private PostgreSQL, with writers and readers busy
    url = await private_pg.create_database("funnel")
    settings = make_settings(
        url, FUNNEL_PROJECTOR_POLL_SECONDS=0.2, FUNNEL_READ_WAIT_SECONDS=2, FUNNEL_DB_POOL_SIZE=4
    )
    app = create_app(settings)
    stop = asyncio.Event()
    async with app.router.lifespan_context(app), asyncio.timeout(120):
        keys = app.state.services.keys
        token = (await keys.create("reliability", frozenset({Scope.ADMIN}))).token
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as http:
            writers = [Writer(http, BASE, token) for _ in range(2)]
            readers = [Reader(http, BASE, token) for _ in range(2)]
            load = [
                *(
                    asyncio.create_task(w.stream(batches(f"w{n}", 8), stop))
                    for n, w in enumerate(writers)
                ),
                *(asyncio.create_task(r.poll(stop)) for r in readers),
            ]
            await asyncio.sleep(1)
            # When PostgreSQL stops cleanly, and later crashes (immediate mode), under load
            recoveries = []
            for mode in ("fast", "immediate"):
                back = await _outage(private_pg, mode)
                recoveries.append(await _first_success(writers[0], readers[0], back))
                await asyncio.sleep(1)
            stop.set()
            await asyncio.gather(*load)
            # Then every failure was a retryable 503 problem, never a bare 500
            failures = [f for w in writers for f in w.failures]
            failures += [f for r in readers for f in r.failures]
            assert failures, "the outages were not seen by any request"
            for failure in failures:
                assert_retryable_problem(failure)
            assert all(status in (200, 503) for r in readers for status in r.answers)
            # And the service recovered on its own, quickly, losing and doubling nothing
            assert max(recoveries) < RECOVERY_SECONDS, recoveries
            feed = await read_feed(http, BASE, token)
            assert_exactly_once(feed, [key for w in writers for key in w.acknowledged])
            await assert_read_models_match_fold(http, BASE, token, [recorded(e) for e in feed])
            status = (await http.get("/v1/admin/projection", headers=bearer(token))).json()
            assert status["leader_here"]
            assert status["lag"] == 0

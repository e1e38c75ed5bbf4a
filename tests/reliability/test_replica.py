"""Reads served by a real streaming replica (`DATABASE_READ_URL`): each states its position,
those that must reflect every acknowledged event wait for it, and /readyz reports the lag."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from service.api.app import create_app
from service.keys.api_keys import Scope
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import READ_MODELS
from tests.conftest import make_settings
from tests.reliability.checks import (
    assert_read_models_match_fold,
    assert_retryable_problem,
    read_feed,
    recorded,
)
from tests.reliability.harness import bearer
from tests.reliability.postgres import PrivatePostgres
from tests.reliability.workload import Writer, batches

pytestmark = [pytest.mark.reliability, pytest.mark.private_server]

BASE = "http://testserver"
QUARTER = {"from": "2026-01-01", "to": "2026-04-01"}


@pytest.fixture
async def standby(private_pg: PrivatePostgres) -> AsyncIterator[PrivatePostgres]:
    """A hot standby streaming from `private_pg`, which already holds an empty `funnel`."""
    await private_pg.create_database("funnel")
    replica = await asyncio.to_thread(private_pg.standby)
    try:
        await asyncio.to_thread(replica.start)
        yield replica
    finally:
        await asyncio.to_thread(replica.close)


async def _replay(replica: PrivatePostgres, action: str) -> None:
    """Pause or resume the standby's WAL replay: a replica that lags, on demand."""
    conn = await asyncpg.connect(replica.url())
    try:
        await conn.execute(f"SELECT pg_wal_replay_{action}()")
    finally:
        await conn.close()


async def _get(http: httpx.AsyncClient, token: str, path: str, **params: Any) -> httpx.Response:
    return await http.get(path, params=params, headers=bearer(token))


async def test_reads_come_from_the_replica_and_state_their_position(
    private_pg: PrivatePostgres, standby: PrivatePostgres
) -> None:
    # Given the service writing to the primary and reading from its streaming replica
    settings = make_settings(
        private_pg.url("funnel"),
        DATABASE_READ_URL=standby.url("funnel"),
        FUNNEL_READ_WAIT_SECONDS=2,
        FUNNEL_PROJECTOR_POLL_SECONDS=0.2,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), asyncio.timeout(90):
        services = app.state.services
        assert services.read_engine is not services.engine
        token = (await services.keys.create("reliability", frozenset({Scope.ADMIN}))).token
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as http:
            writer = Writer(http, BASE, token)
            source = batches("rep", size=40)
            for _ in range(3):
                await writer.send(next(source))
            # When the replica is caught up, a strong read reflects every acknowledged event
            head = await services.reader.head()
            board = await _get(http, token, "/v1/scoreboard", **QUARTER)
            assert board.json()["position"] == head
            assert board.headers["x-funnel-position"] == str(head)
            # When the replica stops replaying and more events are written to the primary
            await _replay(standby, "pause")
            await writer.send(next(source))
            new_head = await services.reader.head()
            assert await services.projector.wait_for(new_head, 10)
            # Then /readyz reports the replica's lag in positions, WAL bytes and seconds
            ready = (await _get(http, token, "/readyz")).json()["replica"]
            assert ready["in_recovery"] is True
            assert ready["head"] == head
            assert ready["lag_events"] == new_head - head
            assert ready["lag_bytes"] > 0
            assert ready["lag_seconds"] is not None and ready["lag_seconds"] >= 0
            # And an eventual read answers from the replica and says which position it reflects
            eventual = await _get(http, token, "/v1/scoreboard", consistency="eventual", **QUARTER)
            assert eventual.json()["position"] == head < new_head
            deals = await _get(http, token, "/v1/deals", consistency="eventual")
            assert deals.json()["position"] == head
            # And reads that must reflect everything acknowledged wait, then say 503
            first_deal = (await _get(http, token, "/v1/deals", consistency="eventual")).json()
            deal_id = first_deal["deals"][0]["deal_id"]
            for path in ("/v1/events", f"/v1/deals/{deal_id}", f"/v1/deals/{deal_id}/events"):
                lagging = await _get(http, token, path)
                assert_retryable_problem(lagging)
                assert lagging.json()["wanted_position"] == new_head
            assert_retryable_problem(await _get(http, token, "/v1/funnel", as_of="2026-03-31"))
            # When the replica resumes while a deal read waits, that read answers the new head
            waiting = asyncio.create_task(_get(http, token, f"/v1/deals/{deal_id}"))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            await _replay(standby, "resume")
            deal = await waiting
            assert deal.status_code == 200, deal.text
            assert deal.json()["position"] == int(deal.headers["x-funnel-position"]) == new_head
            feed = await _get(http, token, "/v1/events", limit=1000)
            assert feed.json()["head"] == new_head
            ready = (await _get(http, token, "/readyz")).json()["replica"]
            assert ready["lag_events"] == 0 and ready["head"] == new_head
            # And a strong scoreboard reflects the new head
            board = await _get(http, token, "/v1/scoreboard", **QUARTER)
            assert board.json()["position"] == new_head
            log = [recorded(e) for e in await read_feed(http, BASE, token)]
            assert [e.position for e in log] == list(range(1, new_head + 1))
            await assert_read_models_match_fold(http, BASE, token, log)
        # And the projector wrote on the primary: the replica only replays its checkpoint
        assert await checkpoints.position(services.engine, READ_MODELS) == new_head

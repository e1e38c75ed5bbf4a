"""A service answers from its in-memory copy from the first request: `/readyz` says `warming`
(503) until the copy has loaded, and `serve` waits for it before it accepts connections."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from service.events.envelope import parse_event
from service.store.database.engines import create_engine
from service.store.log.appender import EventAppender
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection.projector import catch_up
from tests.conftest import bearer
from tests.e2e.served import serve
from tests.factories import signed, sourced

pytestmark = pytest.mark.e2e


async def test_readiness_is_warming_until_the_copy_has_loaded(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    # Given a service whose in-memory copy has not loaded yet
    services = app.state.services
    started, cold = services.mirror, ReadMirror(services.read_engine)
    services.mirror = cold
    try:
        # Then a load balancer's probe is told to wait, and so is a metrics key
        probe = await client.get("/readyz")
        assert (probe.status_code, probe.json()) == (503, {"status": "warming", "warm": False})
        detail = await client.get("/readyz", headers=bearer(tokens["metrics"]))
        assert detail.status_code == 503
        assert detail.json()["read_mirror"] == {"position": None, "loading": False, "warm": False}
        # When the copy has loaded
        cold.follow()
        await cold.loaded_once()
        # Then the service is ready, and warm
        probe = await client.get("/readyz")
        assert (probe.status_code, probe.json()) == (200, {"status": "ok", "warm": True})
        detail = await client.get("/readyz", headers=bearer(tokens["metrics"]))
        assert detail.json()["read_mirror"] == {"position": 0, "loading": False, "warm": True}
    finally:
        services.mirror = started
        await cold.close()


async def test_serve_accepts_connections_once_the_copy_has_loaded(database_url: str) -> None:
    # Given a database whose read models hold a projected deal
    engine = create_engine(database_url, pool_size=2)
    try:
        now = datetime.now(UTC)
        raws = [
            sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
            signed("D-1", "R-1", "2026-02-01T09:00:00Z"),
        ]
        await EventAppender(engine).append([parse_event(raw, now=now) for raw in raws])
        await catch_up(engine, 100)
    finally:
        await engine.dispose()
    # When `serve` starts on it (waiting for the copy, as it does by default)
    async with serve(database_url) as served, httpx.AsyncClient(base_url=served.base) as http:
        # Then its very first answer is already warm, with the copy at the read models' position
        probe = await http.get("/readyz")
        assert (probe.status_code, probe.json()) == (200, {"status": "ok", "warm": True})
        detail = (await http.get("/readyz", headers=bearer(served.admin_key))).json()
        assert detail["read_mirror"] == {"position": 2, "loading": False, "warm": True}

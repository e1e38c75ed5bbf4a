"""A service answers from its in-memory copy from the first request: `/readyz` says `warming`
(503) until the copy has loaded, and `serve` waits for it before it accepts connections."""

from __future__ import annotations

import asyncio
import subprocess
import sys
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
from tests.e2e.served import ROOT, serve
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
        assert detail.json()["read_mirror"] == {
            "position": None,
            "loading": False,
            "warm": False,
            "full_loads": 0,
        }
        # When the copy has loaded
        cold.follow()
        await cold.loaded_once()
        # Then the service is ready, and warm
        probe = await client.get("/readyz")
        assert (probe.status_code, probe.json()) == (200, {"status": "ok", "warm": True})
        detail = await client.get("/readyz", headers=bearer(tokens["metrics"]))
        assert detail.json()["read_mirror"] == {
            "position": 0,
            "loading": False,
            "warm": True,
            "full_loads": 1,
        }
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
        assert detail["read_mirror"] == {
            "position": 2,
            "loading": False,
            "warm": True,
            "full_loads": 1,
        }


async def test_a_rebuild_by_another_process_leaves_the_service_warm(database_url: str) -> None:
    # Given a served database whose read models hold a projected deal
    engine = create_engine(database_url, pool_size=2)
    try:
        raws = [
            sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
            signed("D-1", "R-1", "2026-02-01T09:00:00Z"),
        ]
        now = datetime.now(UTC)
        await EventAppender(engine).append([parse_event(raw, now=now) for raw in raws])
        await catch_up(engine, 100)
    finally:
        await engine.dispose()
    async with serve(database_url) as served:
        admin = bearer(served.admin_key)
        async with httpx.AsyncClient(base_url=served.base, headers=admin) as http:
            before = (await http.get("/v1/scoreboard", params={"period": "2026-Q1"})).json()
            # When `funnel-ledger rebuild` runs in a process of its own
            rebuild = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "service",
                "rebuild",
                env=served.env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            _, errors = await asyncio.wait_for(rebuild.communicate(), 120)
            assert rebuild.returncode == 0, errors.decode()[-2000:]
            # Then the service answers as before, and its copy never reloads in full: it had
            # preloaded the new tables before the swap
            after = (await http.get("/v1/scoreboard", params={"period": "2026-Q1"})).json()
            assert {**after, "known_at": None} == {**before, "known_at": None}  # now, each
            for _ in range(15):  # three times the follower's period and more
                mirror = (await http.get("/readyz")).json()["read_mirror"]
                assert (mirror["full_loads"], mirror["loading"], mirror["warm"]) == (1, False, True)
                await asyncio.sleep(0.1)

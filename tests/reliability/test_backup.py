"""Backup and restore with PostgreSQL's own tools: the chain and the audit digest survive."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.api.app import create_app
from service.demo import generate
from tests import databases
from tests.conftest import make_settings
from tests.reliability.checks import read_feed
from tests.reliability.harness import bearer
from tests.reliability.postgres import client_programs
from tests.reliability.workload import Writer

pytestmark = pytest.mark.reliability

BASE = "http://testserver"


async def _pg(url: str, tool: str, *args: str) -> None:
    """Run pg_dump or pg_restore against `url`, of its server's version; fail on any error."""
    programs = await client_programs(url)
    await asyncio.to_thread(
        subprocess.run,
        [str(programs / tool), f"--dbname={url}", *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


async def _audit(app: FastAPI, token: str, known_at: str) -> dict[str, Any]:
    """The chain verification, the quarter's replay and the whole feed, as the app answers."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=60) as http:
        verify = await http.get("/v1/audit/verify", headers=bearer(token))
        params = {"period": "2026-Q1", "known_at": known_at}
        replay = await http.get("/v1/audit/replay", params=params, headers=bearer(token))
        assert verify.status_code == replay.status_code == 200, (verify.text, replay.text)
        return {"verify": verify.json(), "replay": replay.json()} | {
            "feed": await read_feed(http, BASE, token)
        }


async def test_dump_and_restore_keep_the_chain_and_the_digest(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: dict[str, str],
    database_url: str,
    test_server: databases.TestServer,
    tmp_path: Path,
) -> None:
    # Given a store holding a demo quarter (teams, targets, late events, a retraction)
    writer = Writer(client, BASE, tokens["admin"])
    events = generate(seed=8, reps=6, quarter="2026-Q1", deals=120)
    for start in range(0, len(events), 500):
        await writer.send(events[start : start + 500])
    known_at = datetime.now(UTC).isoformat()
    before = await _audit(app, tokens["admin"], known_at)
    assert before["verify"]["ok"] and before["replay"]["projection_matches"]
    # When it is dumped (custom format) and restored into a new, empty database
    dump = tmp_path / "funnel.dump"
    await _pg(database_url, "pg_dump", "--format=custom", f"--file={dump}")
    restored_url = await test_server.create_database(migrated=False)
    try:
        await _pg(restored_url, "pg_restore", "--no-owner", "--exit-on-error", str(dump))
        restored = create_app(make_settings(restored_url))
        async with restored.router.lifespan_context(restored):
            after = await _audit(restored, tokens["admin"], known_at)
    finally:
        await test_server.drop_database(restored_url)
    # Then the chain verifies to the same head, and the quarter's audit digest is unchanged
    assert after["verify"]["ok"]
    for field in ("head_position", "head_hash", "verified_through"):
        assert after["verify"][field] == before["verify"][field]
    for field in ("digest", "events_considered", "retractions", "totals", "rows"):
        assert after["replay"][field] == before["replay"][field]
    assert after["replay"]["projection_matches"] is True
    assert after["feed"] == before["feed"]

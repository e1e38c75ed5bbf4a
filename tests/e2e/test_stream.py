"""`GET /v1/events/stream` over a real socket: events as SSE, live, resumable, with heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from service.settings import Settings
from tests.conftest import bearer, make_settings
from tests.factories import sourced, visit

pytestmark = pytest.mark.e2e

Frame = dict[str, Any]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Heartbeats every 0.2 s, so that the test sees one quickly."""
    return make_settings(database_url, FUNNEL_SSE_HEARTBEAT_SECONDS=0.2)


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free local port (its lifespan already runs)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def _read(lines: AsyncIterator[str], events: int, heartbeat: bool = False) -> list[Frame]:
    """The next `events` SSE messages (and, if asked, wait for a heartbeat comment after them)."""
    received: list[Frame] = []
    frame: Frame = {}
    async for line in lines:
        if line.startswith("id: "):
            frame["id"] = int(line[4:])
        elif line.startswith("data: "):
            frame["data"] = orjson.loads(line[6:])
        elif line == "" and frame:
            received.append(frame)
            frame = {}
        elif line == ": heartbeat" and len(received) >= events:
            return received
        if len(received) >= events and not heartbeat:
            return received
    return received


async def test_the_stream_sends_resumes_and_beats(base_url, client, tokens):
    writer, reader = bearer(tokens["events:write"]), bearer(tokens["read"])
    # Given three stored events
    batch = [
        sourced("D-1", "R-1", "2026-01-05T00:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T00:00:00Z"),
        sourced("D-2", "R-2", "2026-01-07T00:00:00Z"),
    ]
    assert (await client.post("/v1/events", json=batch, headers=writer)).status_code == 201
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        # When a reader opens the stream from the start
        async with http.stream("GET", "/v1/events/stream", headers=reader) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            first = await _read(lines, 3)
            # Then it gets the three events, `id` being the position, then each new one live
            assert [f["id"] for f in first] == [1, 2, 3]
            assert [f["data"]["position"] for f in first] == [1, 2, 3]
            assert first[1]["data"]["type"] == "visit.completed"
            late = visit("D-2", "R-2", "2026-01-08T00:00:00Z")
            assert (await client.post("/v1/events", json=late, headers=writer)).status_code == 201
            live = await _read(lines, 1, heartbeat=True)
            assert live[0]["id"] == 4 and live[0]["data"]["id"] == late["id"]
        # And a reconnection with Last-Event-ID resumes right after it (it wins over `after`)
        resume = {**reader, "Last-Event-ID": "2"}
        async with http.stream("GET", "/v1/events/stream?after=0", headers=resume) as response:
            assert [f["id"] for f in await _read(response.aiter_lines(), 2)] == [3, 4]
        async with http.stream("GET", "/v1/events/stream?after=3", headers=reader) as response:
            assert [f["id"] for f in await _read(response.aiter_lines(), 1)] == [4]


async def test_the_stream_needs_a_read_key_and_a_numeric_last_event_id(client, tokens):
    assert (await client.get("/v1/events/stream")).status_code == 401
    assert (
        await client.get("/v1/events/stream", headers=bearer(tokens["events:write"]))
    ).status_code == 403
    bad = {**bearer(tokens["read"]), "Last-Event-ID": "abc"}
    assert (await client.get("/v1/events/stream", headers=bad)).status_code == 400

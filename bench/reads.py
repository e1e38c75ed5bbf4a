"""As-of reads: scoreboard, funnel and one deal, for past `as_of` and `known_at`."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from bench.infra import Process, latencies


async def mirror_loaded(http: httpx.AsyncClient, budget_s: float = 180) -> float:
    """Seconds until the service's in-memory read models are loaded (it starts them at boot).

    A poll that loses its connection is asked again: a keep-alive connection the server closes
    just as the next poll goes out fails that poll (seen while a large copy was loading), and
    says nothing about the service.
    """
    began = time.perf_counter()
    while time.perf_counter() - began < budget_s:
        try:
            mirror = (await http.get("/readyz")).json().get("read_mirror") or {}
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            continue
        if mirror.get("position") is not None and not mirror.get("loading"):
            break
        await asyncio.sleep(0.2)
    return round(time.perf_counter() - began, 1)


async def read_latencies(
    server: Process, token: str, known_past: str, count: int
) -> dict[str, Any]:
    """p50/p95 of the read endpoints; `known_past` is a past transaction time."""
    headers = {"Authorization": f"Bearer {token}"}
    past = datetime.fromisoformat(known_past)
    known_past = quote(known_past)
    queries = {
        "scoreboard_quarter_by_rep": "/v1/scoreboard?period=2026-Q1&group_by=rep",
        "scoreboard_quarter_by_rep_past_known_at": f"/v1/scoreboard?period=2026-Q1&group_by=rep&known_at={known_past}",
        "scoreboard_quarter_by_team": "/v1/scoreboard?period=2026-Q1&group_by=team",
        "funnel_past_as_of": "/v1/funnel?as_of=2026-02-15",
        "funnel_past_as_of_past_known_at": f"/v1/funnel?as_of=2026-02-15&known_at={known_past}",
        "deal_past_as_of": "/v1/deals/D-000042?as_of=2026-06-30",
        "deal_past_as_of_past_known_at": f"/v1/deals/D-000042?as_of=2026-06-30&known_at={known_past}",
    }
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=60) as http:
        figures["read_mirror_load_s"] = await mirror_loaded(http)
        for name, path in queries.items():

            async def call(path: str = path) -> None:
                response = await http.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

            figures[name] = await latencies(call, count)
        # Cold: each request asks another past instant, inside the ingest (from a second before
        # `past`, which is taken just after it): a known_at at or after the newest event shares
        # the answer of "now" and would be served from the answer cache. A tenth of a second
        # apart, each request sees another prefix of the log (the ingest commits about ten
        # transactions a second), and the last of them still nearly all of it (a second apart,
        # the by-team requests, asked after the by-rep ones, reached far back into the ingest).
        # Each grouping walks back from the same instant.
        steps = {"rep": iter(range(10**6)), "team": iter(range(10**6))}

        async def cold(group_by: str) -> None:
            back = timedelta(seconds=1) + timedelta(milliseconds=100) * next(steps[group_by])
            known = quote((past - back).isoformat())
            path = f"/v1/scoreboard?period=2026-Q1&group_by={group_by}&known_at={known}"
            response = await http.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

        figures["scoreboard_quarter_by_rep_cold"] = await latencies(lambda: cold("rep"), count)
        figures["scoreboard_quarter_by_team_cold"] = await latencies(lambda: cold("team"), count)
        began = time.perf_counter()
        replay = await http.get("/v1/audit/replay?period=2026-Q1", timeout=600)
        if replay.status_code != 200:
            raise RuntimeError(f"replay: {replay.status_code} {replay.text[:200]}")
        body = replay.json()
        figures["audit_replay_quarter"] = {
            "seconds": round(time.perf_counter() - began, 2),
            "events_considered": body["events_considered"],
            "projection_matches": body["projection_matches"],
        }
    return figures

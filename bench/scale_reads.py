"""The service's figures at one size of the log: start-up, warm-up, memory, reads, audit replay.

Reads go over HTTP to the real service, as in `bench/reads.py`, on the log's last full quarter
(Q1 of its last year), so that every size answers about the same number of facts and only the
history behind them grows. "Cold" requests each ask another `known_at` (an hour apart, inside
the last year, each a different prefix of the log: its events are recorded as delivered), or
another deal, so no answer is served from a cache. Deals, opened in the last year, are read as
they stood a day before the log's end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import psutil

from bench.infra import Process, latencies, start_service
from bench.reads import mirror_loaded


def _mb(value: int) -> int:
    return round(value / 2**20)


@contextmanager
def peak_rss(
    server: Process, every_s: float = 0.2, limit: int | None = None
) -> Iterator[Callable[[], int]]:
    """The highest RSS of the service (bytes) seen while the block runs, sampled from /proc
    (psutil); above `limit` the service is stopped, to spare a shared machine."""
    peak = [server.rss()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            try:
                peak[0] = max(peak[0], server.rss())
            except psutil.Error:
                return
            if limit is not None and peak[0] > limit:
                server.popen.kill()
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0]
    finally:
        stop.set()
        thread.join()


def _instant(at: datetime) -> str:
    return quote(at.isoformat())


async def service_figures(
    url: str,
    token: str,
    *,
    quarter: str,
    quarter_end: datetime,
    log_end: datetime,
    deals: list[str],
    count: int,
    rss_limit_mb: int,
) -> dict[str, Any]:
    """Start the service on `url` (an existing log) and measure it; stop it afterwards."""
    began = time.perf_counter()
    # `serve` loads the copy before it answers: a minute and more at ten million events.
    server = start_service(url, projector=True, wait_s=1800)
    figures: dict[str, Any] = {"healthy_s": round(time.perf_counter() - began, 2)}
    try:
        figures["rss_start_mb"] = _mb(server.rss())
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=600) as http:
            with peak_rss(server) as peak:
                loaded = await mirror_loaded(http, budget_s=1800)
            figures["warm_s"] = round(figures["healthy_s"] + loaded, 2)
            figures["rss_warm_mb"] = _mb(server.rss())
            figures["rss_peak_warming_mb"] = _mb(peak())
            figures["reads"] = await _reads(http, quarter, quarter_end, log_end, deals, count)
            figures["rss_after_reads_mb"] = _mb(server.rss())
            began = time.perf_counter()
            with peak_rss(server, limit=rss_limit_mb * 2**20) as peak:
                try:
                    figures["audit_replay"] = await _replay(http, quarter)
                except httpx.TransportError:
                    figures["audit_replay"] = {
                        "aborted": f"service stopped above {rss_limit_mb} MB",
                        "seconds": None,
                        "seconds_until_stopped": round(time.perf_counter() - began, 1),
                    }
            figures["audit_replay"]["rss_peak_mb"] = _mb(peak())
    finally:
        server.stop()
    return figures


async def _reads(
    http: httpx.AsyncClient,
    quarter: str,
    quarter_end: datetime,
    log_end: datetime,
    deals: list[str],
    count: int,
) -> dict[str, Any]:
    async def get(path: str) -> None:
        response = await http.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    as_of = (quarter_end - timedelta(days=45)).date().isoformat()
    # Cold known_at instants walk back, an hour apart, from 60 days after the quarter's end.
    latest = quarter_end + timedelta(days=60)
    steps: dict[str, Iterator[int]] = {}

    def known(name: str, latest: datetime = latest) -> str:
        step = next(steps.setdefault(name, iter(range(10**6))))
        return _instant(latest - timedelta(hours=step))

    deal_as_of = (log_end - timedelta(days=1)).date().isoformat()

    deal_cycle = iter(deals * 10)
    scoreboard = f"/v1/scoreboard?period={quarter}&group_by="
    queries: dict[str, Callable[[], Any]] = {
        "scoreboard_by_rep_first": lambda: get(f"{scoreboard}rep"),
        "scoreboard_by_rep_repeated": lambda: get(f"{scoreboard}rep"),
        "scoreboard_by_rep_cold": lambda: get(f"{scoreboard}rep&known_at={known('rep')}"),
        "scoreboard_by_team_cold": lambda: get(f"{scoreboard}team&known_at={known('team')}"),
        "funnel_past_as_of_cold": lambda: get(
            f"/v1/funnel?as_of={as_of}&known_at={known('funnel')}"
        ),
        "deal_past_as_of_cold": lambda: get(f"/v1/deals/{next(deal_cycle)}?as_of={deal_as_of}"),
        "deal_past_as_of_past_known_at_cold": lambda: get(
            f"/v1/deals/{next(deal_cycle)}?as_of={deal_as_of}"
            f"&known_at={known('deal', log_end - timedelta(days=1))}"
        ),
    }
    figures: dict[str, Any] = {}
    for name, call in queries.items():
        if name.endswith("_first"):
            began = time.perf_counter()
            await call()
            figures[name] = {"ms": round((time.perf_counter() - began) * 1000, 2)}
            continue
        figures[name] = await latencies(call, count)
    return figures


async def _replay(http: httpx.AsyncClient, quarter: str) -> dict[str, Any]:
    began = time.perf_counter()
    response = await http.get(f"/v1/audit/replay?period={quarter}", timeout=3600)
    if response.status_code != 200:
        raise RuntimeError(f"replay: {response.status_code} {response.text[:200]}")
    body = response.json()
    return {
        "seconds": round(time.perf_counter() - began, 2),
        "events_considered": body["events_considered"],
        "projection_matches": body["projection_matches"],
    }

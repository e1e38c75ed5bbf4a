"""Time the dashboard's meeting pages at bench scale: `python bench/dashboard.py [--database URL]`.

Loads the bench history (`bench/datagen.py`, 100 000 deals, about 1 M events) unless the
database already holds events (see `bench/profile_reads.py --serve-dir` to keep a loaded server
between runs), starts the service as `serve` runs it, signs in through the sign-in form and
prints p50/p95 (ms) of wall time and the service process's CPU time per request for:

- the team page `/` (the default period, to today), and the period 2026-Q2 as of a day in it,
  known now and with `known=then` (`known_at` the end of that day);
- a rep's one-on-one `/reps/R-007` for the same views.

"Cold" requests ask for a different as-of day each time (nothing cached for it yet), "warm" ones
repeat the same view. `--before DIR` starts a second service from another checkout (say, a
worktree of the previous commit) and alternates the two request by request, so both are
measured under the same load of a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.infra import ROOT, Process, embedded_server, free_port, percentile, start_process
from bench.profile_reads import load
from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine

REP = "R-007"
Q2_LAST = date(2026, 6, 30)


def say(label: str, value: Any) -> None:
    """Print one figure as it is measured."""
    print(f"{label:<44} {value}", flush=True)


def start_from(checkout: Path, database_url: str) -> Process:
    """The service from `checkout` (uvicorn, uvloop, httptools, one process, the projector on)."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "FUNNEL_RUN_PROJECTOR": "true",
        "FUNNEL_READ_WAIT_SECONDS": "120",
        "FUNNEL_RATE_LIMIT_PER_SECOND": "1000000",
        "FUNNEL_RATE_LIMIT_BURST": "1000000",
        "PYTHONPATH": str(checkout),
    }
    args = [sys.executable, "-m", "uvicorn", "service.api.main:app", "--port", str(port)]
    args += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    if checkout == ROOT:
        return start_process(args, env, port)
    popen = subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=checkout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return Process(popen, base)
        except httpx.TransportError:
            time.sleep(0.1)
    popen.kill()
    raise RuntimeError(f"{checkout} did not start")


async def signed_in(base: str, token: str) -> httpx.AsyncClient:
    """A client holding a dashboard session (signed in through the form, as a browser is)."""
    client = httpx.AsyncClient(base_url=base, timeout=120)
    response = await client.post(
        "/login", data={"key": token, "next": "/"}, headers={"Origin": base}
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in: {response.status_code} {response.text[:200]}")
    return client


def views(count: int) -> dict[str, Callable[[int], str]]:
    """Each measured page: request number → its URL (cold ones vary the as-of day)."""

    def q2(back: int) -> str:
        return (Q2_LAST - timedelta(days=back)).isoformat()

    return {
        "team_default_warm": lambda n: "/",
        "team_q2_cold": lambda n: f"/?period=2026-Q2&as_of={q2(n % 60)}",
        "team_q2_warm": lambda n: f"/?period=2026-Q2&as_of={q2(0)}",
        "team_q2_known_then_cold": lambda n: f"/?period=2026-Q2&as_of={q2(n % 60)}&known=then",
        "rep_default_warm": lambda n: f"/reps/{REP}",
        "rep_q2_cold": lambda n: f"/reps/{REP}?period=2026-Q2&as_of={q2(n % 60)}",
        "rep_q2_warm": lambda n: f"/reps/{REP}?period=2026-Q2&as_of={q2(0)}",
        "rep_q2_known_then_cold": lambda n: (
            f"/reps/{REP}?period=2026-Q2&as_of={q2(n % 60)}&known=then"
        ),
    }


async def timed(client: httpx.AsyncClient, server: Process, path: str) -> tuple[float, float]:
    """(wall ms, service CPU ms) of one request."""
    cpu = server.cpu_seconds()
    began = time.perf_counter()
    response = await client.get(path)
    wall = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    return wall, (server.cpu_seconds() - cpu) * 1000


def summary(samples: list[tuple[float, float]]) -> str:
    """p50/p95 of wall and CPU milliseconds."""
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    return (
        f"wall p50 {statistics.median(walls):8.1f} p95 {percentile(walls, 0.95):8.1f} | "
        f"cpu p50 {statistics.median(cpus):8.1f} p95 {percentile(cpus, 0.95):8.1f}"
    )


async def measure(url: str, count: int, before: Path | None) -> None:
    """Start the service(s), sign in, and time each view `count` times (alternating)."""
    engine = create_engine(url, pool_size=2)
    token = (await KeyStore(engine).create("dashboard", frozenset({Scope.READ}))).token
    await engine.dispose()
    checkouts = {"after": ROOT} if before is None else {"before": before, "after": ROOT}
    servers = {name: start_from(path, url) for name, path in checkouts.items()}
    try:
        clients = {name: await signed_in(s.base, token) for name, s in servers.items()}
        for name, client in clients.items():  # the first request loads the in-memory copy
            await timed(client, servers[name], "/")
            await timed(client, servers[name], f"/reps/{REP}")
        for view, url_of in views(count).items():
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
            for n in range(count):
                for name, client in clients.items():
                    samples[name].append(await timed(client, servers[name], url_of(n + 1)))
            for name in servers:
                say(f"{name:<6} {view}", summary(samples[name]))
        for client in clients.values():
            await client.aclose()
    finally:
        for server in servers.values():
            server.stop()


async def prepare(url: str, deals: int) -> None:
    """Migrate and load the bench history when the database holds no events."""
    engine = create_engine(url, pool_size=4)
    try:
        await load(engine, deals)
    finally:
        await engine.dispose()


def main(args: argparse.Namespace) -> None:
    """Load if needed, then measure."""
    asyncio.run(prepare(args.database, args.deals))
    asyncio.run(measure(args.database, args.count, args.before))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a fresh embedded one)")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--count", type=int, default=20, help="requests per view")
    parser.add_argument("--before", type=Path, help="a checkout to compare with, alternating")
    arguments = parser.parse_args()
    if arguments.database is not None:
        main(arguments)
    else:
        with embedded_server() as fresh:
            arguments.database = fresh
            main(arguments)

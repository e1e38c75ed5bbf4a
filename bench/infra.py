"""Benchmark infrastructure: a fresh embedded PostgreSQL, service processes, timing helpers."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from sqlalchemy.ext.asyncio import AsyncEngine

from service.embedded import EmbeddedPostgres
from service.events.envelope import parse_event
from service.store.log.appender import EventAppender

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def embedded_server() -> Iterator[str]:
    """A fresh embedded PostgreSQL for this run; yields the URL of a new database in it."""
    with tempfile.TemporaryDirectory(prefix="funnel-bench-") as tmp:
        Path(tmp).chmod(0o755)
        server = EmbeddedPostgres(Path(tmp))
        url = server.start()
        try:
            yield url
        finally:
            server.stop()


def asyncpg_dsn(url: str) -> str:
    """The URL in the form asyncpg accepts."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def sql(url: str, statement: str) -> None:
    """Run one statement."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@dataclass
class Process:
    """A service process started for a benchmark."""

    popen: subprocess.Popen[bytes]
    base: str

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def rss(self) -> int:
        """Resident memory in bytes, the worker processes' included."""
        main = psutil.Process(self.pid)
        return sum(int(p.memory_info().rss) for p in [main, *main.children(recursive=True)])

    def cpu_seconds(self) -> float:
        """CPU time used so far (user and system), the worker processes' included."""
        main = psutil.Process(self.pid)
        times = [p.cpu_times() for p in [main, *main.children(recursive=True)]]
        return float(sum(t.user + t.system for t in times))

    def stop(self) -> None:
        """Terminate and wait."""
        self.popen.terminate()
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def start_process(args: list[str], env: dict[str, str], port: int, wait_s: float = 60) -> Process:
    """Start a uvicorn-served app and wait (up to `wait_s`) until it answers /healthz."""
    popen = subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return Process(popen, base)
        except httpx.TransportError:
            time.sleep(0.1)
    popen.kill()
    raise RuntimeError(f"{args} did not start")


def start_service(
    database_url: str,
    *,
    projector: bool,
    workers: int = 1,
    read_url: str | None = None,
    wait_s: float = 60,
) -> Process:
    """The real service (uvicorn, uvloop, httptools, `workers` processes) on `database_url`,
    its read routes on `read_url` (`DATABASE_READ_URL`) when given; `wait_s` for it to answer
    (it loads its in-memory copy before it does)."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "FUNNEL_RUN_PROJECTOR": "true" if projector else "false",
        "FUNNEL_READ_WAIT_SECONDS": "120",
        # The per-key request limit is a deployment policy; the benchmark measures capacity.
        "FUNNEL_RATE_LIMIT_PER_SECOND": "1000000",
        "FUNNEL_RATE_LIMIT_BURST": "1000000",
    }
    if read_url is not None:
        env["DATABASE_READ_URL"] = read_url
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "service.api.main:app",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    return start_process(args, env, port, wait_s)


def calibrate(rounds: int = 5) -> float:
    """Seconds for a fixed piece of pure-Python work (median of `rounds`): how fast the shared
    machine is at the moment, to compare the absolute figures of runs made on other days."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        sum(range(5_000_000))
        times.append(time.perf_counter() - began)
    return round(statistics.median(times), 4)


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def latencies(call: Callable[[], Awaitable[Any]], count: int) -> dict[str, float]:
    """p50 and p95 in milliseconds of `count` sequential calls (after two warm-ups)."""
    for _ in range(2):
        await call()
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
    }


def run(coroutine: Awaitable[Any]) -> Any:
    """Run a coroutine to completion."""
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def append_history(engine: AsyncEngine, events: list[dict[str, Any]]) -> float:
    """Append raw events through the real appender, 1000 per transaction; return the seconds."""
    appender = EventAppender(engine)
    now = datetime.now(UTC)
    began = time.perf_counter()
    for start in range(0, len(events), 1000):
        batch = [parse_event(raw, now=now) for raw in events[start : start + 1000]]
        await appender.append(batch, {"actor": "bench"})
    return time.perf_counter() - began

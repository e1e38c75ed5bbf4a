"""No slow window: cold quarter scoreboards right after a bulk load, a restart and a rebuild, and
the in-memory copy's memory and single-event throughput with 1, 2 and 4 workers.

`python bench/warm.py --database URL` on a database that holds the bench history (load it with
`bench/read_paths.py` or `bench/profile_reads.py`; without `--database` a fresh embedded one is
loaded with `--deals` deals). Each window is measured from its very first request: `--count`
scoreboards (2026-Q1 by rep), each at a new past `known_at` so that no answer is cached, with no
warm-up. The windows and what they compare:

- restart: `FUNNEL_WARM_WAIT_SECONDS=0` (the service answers at once, SQL until the copy has
  loaded: the old behaviour) against the default (start-up waits for the copy);
- bulk load: `--bulk` new events appended through the real appender (1000 per transaction)
  while the service runs with its projector; the requests start as soon as the read models
  reach the head;
- rebuild: `funnel-ledger rebuild` in a process of its own (which announces the new generation
  before its swap and waits until the service has preloaded it) against
  `POST /v1/admin/rebuild` (the service preloads it itself);
- live: scoreboards on a quiet service, then while single events arrive (`--rate` a second):
  each request that finds the read models moved swaps the deals touched into the copy first;
- workers: resident and proportional memory of each worker once warm (`/proc/PID/smaps_rollup`),
  `--count` cold scoreboards through whichever worker the connection reaches, and single
  events at concurrency 16 (`bench/load.py`) for `--seconds`, at 1, 2 and 4 workers: with one
  copy, held by one worker that answers every read (as `serve --workers N` runs them), and with
  a copy in every worker (`serve --copy-in-every-worker`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import psutil
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datagen import Shape, history
from bench.infra import (
    ROOT,
    Process,
    append_history,
    calibrate,
    embedded_server,
    free_port,
    percentile,
    start_process,
)
from bench.profile_reads import known_past, load, say
from bench.single import load as single_load
from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine

BOARD = "/v1/scoreboard?period=2026-Q1&group_by=rep&known_at="


def start(database_url: str, *, workers: int = 1, **env: str) -> tuple[Process, float]:
    """The service under uvicorn (projector in the service) and the seconds until it answered."""
    port = free_port()
    settings = {
        "DATABASE_URL": database_url,
        "FUNNEL_READ_WAIT_SECONDS": "300",
        "FUNNEL_RATE_LIMIT_PER_SECOND": "1000000",
        "FUNNEL_RATE_LIMIT_BURST": "1000000",
        **env,
    }
    args = [sys.executable, "-m", "uvicorn", "service.api.main:app", "--port", str(port)]
    args += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    args += ["--workers", str(workers)]
    began = time.perf_counter()
    process = _started(args, settings, port)
    return process, round(time.perf_counter() - began, 1)


def _started(args: list[str], env: dict[str, str], port: int) -> Process:
    """Start the service and wait (up to ten minutes: a start-up may load a million rows into
    memory on a busy machine) until it answers /healthz."""
    return start_process(args, env, port, wait_s=600)


async def first_requests(
    base: str, token: str, past: datetime, count: int, pause_s: float = 0
) -> dict[str, Any]:
    """`count` cold scoreboards from the very first, each at a new past `known_at`, `pause_s`
    apart."""
    samples = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as http:
        for step in range(count):
            known = quote((past - timedelta(milliseconds=100 * step + 1)).isoformat())
            began = time.perf_counter()
            response = await http.get(BOARD + known)
            samples.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")
            await asyncio.sleep(pause_s)
    return {
        "first_ms": round(samples[0], 1),
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
    }


async def _caught_up(base: str, token: str, budget_s: float = 900) -> float:
    """Seconds until the read models reach the head of the log."""
    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.perf_counter() - began < budget_s:
            body = (await http.get("/readyz", headers={"Authorization": f"Bearer {token}"})).json()
            if body["projector"]["lag"] == 0:
                break
            await asyncio.sleep(0.1)
    return round(time.perf_counter() - began, 1)


def fresh_events(count: int) -> list[dict[str, Any]]:
    """About `count` new deal events (ids and deals unseen in the database), in send order."""
    run = datetime.now(UTC).strftime("%H%M%S")
    events = []
    for event in history(Shape(deals=max(1, count // 10)), seed=int(run)):
        if not event["subject"].startswith("D-"):
            continue
        event["id"] = f"w{run}-{event['id']}"
        event["subject"] = f"W{run}-{event['subject'][2:]}"
        if "event_id" in event["data"]:
            event["data"]["event_id"] = f"w{run}-{event['data']['event_id']}"
        events.append(event)
    return events[:count]


async def restart_window(url: str, token: str, past: datetime, count: int) -> dict[str, Any]:
    """The first scoreboards after a restart: served at once (SQL while the copy loads) and
    served once the copy is loaded."""
    figures: dict[str, Any] = {}
    for name, wait in (("serving_at_once", "0"), ("waiting_for_the_copy", "600")):
        server, seconds = start(url, FUNNEL_WARM_WAIT_SECONDS=wait)
        try:
            figures[name] = {"start_s": seconds} | await first_requests(
                server.base, token, past, count
            )
        finally:
            server.stop()
        say(f"restart, {name}", figures[name])
    return figures


async def bulk_window(
    url: str, token: str, past: datetime, count: int, bulk: int
) -> dict[str, Any]:
    """The first scoreboards once a bulk load of `bulk` events is projected."""
    events = fresh_events(bulk)
    server, _ = start(url)
    engine = create_engine(url, pool_size=2)
    try:
        seconds = await append_history(engine, events)
        lag_s = await _caught_up(server.base, token)
        figures = {"events": len(events), "append_s": round(seconds, 1), "then_projected_s": lag_s}
        figures |= await first_requests(server.base, token, past, count)
    finally:
        await engine.dispose()
        server.stop()
    say("after a bulk load", figures)
    return figures


async def live_window(
    url: str, token: str, past: datetime, count: int, rate: float
) -> dict[str, Any]:
    """Cold scoreboards on a quiet service, then while single events arrive (`rate` a second,
    new deals' events through `POST /v1/events`): a request that finds the read models moved
    brings the copy to its snapshot before it answers, by swapping in the deals touched."""
    events = fresh_events(max(100, int(count * rate)))
    server, _ = start(url)
    stop = asyncio.Event()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}

    async def trickle() -> int:
        sent = 0
        async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=60) as http:
            for event in events:
                if stop.is_set():
                    break
                response = await http.post("/v1/events", content=orjson.dumps(event))
                if response.status_code >= 300:
                    raise RuntimeError(f"{response.status_code} {response.text[:200]}")
                sent += 1
                await asyncio.sleep(1 / rate)
        return sent

    try:
        figures: dict[str, Any] = {"quiet": await first_requests(server.base, token, past, count)}
        sending = asyncio.create_task(trickle())
        await asyncio.sleep(2)  # the first events projected
        figures["live"] = await first_requests(
            server.base, token, past - timedelta(hours=1), count, pause_s=0.2
        )
        stop.set()
        figures["events_sent"] = await sending
    finally:
        server.stop()
    say("live: quiet, then events arriving", figures)
    return figures


async def _rebuilt_by_the_service(base: str, token: str) -> float:
    began = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        started = await http.post("/v1/admin/rebuild")
        if started.status_code != 202:
            raise RuntimeError(f"rebuild: {started.status_code} {started.text[:200]}")
        while True:
            state = (await http.get("/v1/admin/projection")).json()["rebuild"]
            if state["status"] in ("done", "failed"):
                if state["status"] == "failed":
                    raise RuntimeError(f"rebuild failed: {state['error']}")
                break
            await asyncio.sleep(0.2)
    return round(time.perf_counter() - began, 1)


async def rebuild_window(url: str, token: str, past: datetime, count: int) -> dict[str, Any]:
    """The first scoreboards after a rebuild by another process, and by the service itself."""
    figures: dict[str, Any] = {}
    server, _ = start(url)
    try:
        began = time.perf_counter()
        env = {**os.environ, "DATABASE_URL": url}
        command = [sys.executable, "-m", "service", "rebuild"]
        await asyncio.to_thread(
            subprocess.run, command, env=env, cwd=ROOT, check=True, capture_output=True
        )
        figures["by_another_process"] = {"rebuild_s": round(time.perf_counter() - began, 1)}
        figures["by_another_process"] |= await first_requests(server.base, token, past, count)
        say("after a rebuild by another process", figures["by_another_process"])
        figures["by_the_service"] = {"rebuild_s": await _rebuilt_by_the_service(server.base, token)}
        figures["by_the_service"] |= await first_requests(server.base, token, past, count)
        say("after a rebuild by the service", figures["by_the_service"])
    finally:
        server.stop()
    return figures


def _memory_mb(pid: int) -> dict[str, float]:
    """Resident and proportional set size of one process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name.lower() + "_mb"] = round(int(rest.split()[0]) / 1024, 1)
    return values


async def _settled(pids: list[int], floor: int, *, each: bool, quiet_s: float = 10) -> float:
    """Seconds until every process of `pids` (with `each`; else one of them) holds at least
    `floor` bytes (a loaded copy; the database builds the rows first, for seconds in which
    nothing grows) and none has grown by more than 1 MB for `quiet_s` seconds."""
    began = time.perf_counter()
    last = [psutil.Process(pid).memory_info().rss for pid in pids]
    quiet_since = time.perf_counter()
    loaded = min if each else max
    while (time.perf_counter() - quiet_since < quiet_s or loaded(last) < floor) and (
        time.perf_counter() - began < 900
    ):
        await asyncio.sleep(1)
        now = [psutil.Process(pid).memory_info().rss for pid in pids]
        if any(after - before > 2**20 for before, after in zip(last, now, strict=True)):
            quiet_since = time.perf_counter()
        last = now
    return time.perf_counter() - began


async def workers_figures(
    url: str, token: str, seconds: float, past: datetime, count: int
) -> dict[str, Any]:
    """Memory of each warm worker, cold scoreboards and single-event throughput at 1, 2 and 4
    workers: with one copy held by one worker, as `serve --workers N` runs them, and with a
    copy in every worker (`--copy-in-every-worker`)."""
    figures: dict[str, Any] = {}
    floor = 0  # set from the one worker's size: the others must reach most of it
    for workers, each in ((1, False), (2, False), (4, False), (2, True), (4, True)):
        holder_dir = tempfile.mkdtemp(prefix="fl-bench-")
        env = {"FUNNEL_SESSION_SECRET": "b" * 32}
        if not each and workers > 1:
            env["FUNNEL_READ_HOLDER_DIR"] = holder_dir  # as `serve --workers N` sets it
        server, start_s = start(url, workers=workers, **env)
        try:
            main = psutil.Process(server.pid)
            # With several workers uvicorn's process supervises them (with multiprocessing's
            # resource tracker beside them): the workers are the children that serve.
            children = [
                c for c in main.children() if "resource_tracker" not in " ".join(c.cmdline())
            ]
            pids = [child.pid for child in children] if workers > 1 else [server.pid]
            # /healthz answers once one worker is up; the others may still be loading.
            settled_s = await _settled(pids, floor, each=each)
            memory = [_memory_mb(pid) for pid in pids]
            if workers == 1:
                floor = int(memory[0]["rss_mb"] * 0.8 * 2**20)
            reads = await first_requests(server.base, token, past, count)
            load = await asyncio.to_thread(
                single_load, server.base, "/v1/events", token, seconds, "ours"
            )
        finally:
            server.stop()
            shutil.rmtree(holder_dir, ignore_errors=True)
        name = f"workers_{workers}" + ("_copy_in_every_worker" if each else "")
        figures[name] = {
            "start_s": start_s,
            "all_loaded_s": round(start_s + settled_s, 1),
            "rss_mb_each": [m["rss_mb"] for m in memory],
            "pss_mb_total": round(sum(m["pss_mb"] for m in memory), 1),
            "cold_scoreboard_p50_ms": reads["p50_ms"],
            "cold_scoreboard_p95_ms": reads["p95_ms"],
            "single_events_per_s": load["requests_per_s"],
            "single_p99_ms": load["p99_ms"],
            "errors": load["errors"],
        }
        say(name.replace("_", " "), figures[name])
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Every window, in order, on one database."""
    figures: dict[str, Any] = {"calibration_s": [calibrate()]}
    engine = create_engine(args.database, pool_size=2)
    try:
        await load(engine, args.deals)
        async with engine.connect() as conn:
            figures["events"] = (await conn.execute(text("SELECT count(*) FROM events"))).scalar()
        token = (await KeyStore(engine).create("warm-bench", frozenset({Scope.ADMIN}))).token
        past = await known_past(engine)
    finally:
        await engine.dispose()
    steps = set(args.only or ("restart", "bulk", "rebuild", "live", "workers"))
    if "restart" in steps:
        figures["restart"] = await restart_window(args.database, token, past, args.count)
    if "bulk" in steps:
        figures["bulk_load"] = await bulk_window(args.database, token, past, args.count, args.bulk)
    if "rebuild" in steps:
        figures["rebuild"] = await rebuild_window(args.database, token, past, args.count)
    if "live" in steps:
        figures["live"] = await live_window(args.database, token, past, args.count, args.rate)
    if "workers" in steps:
        figures["workers"] = await workers_figures(
            args.database, token, args.seconds, past, args.count
        )
    figures["calibration_s"].append(calibrate())
    say("calibration at start and end, s", figures["calibration_s"])
    return figures


def parser() -> argparse.ArgumentParser:
    """The command line."""
    commands = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands.add_argument("--database", help="a PostgreSQL URL (default: a fresh embedded one)")
    commands.add_argument("--deals", type=int, default=100_000)
    commands.add_argument("--count", type=int, default=30, help="requests per window")
    commands.add_argument("--bulk", type=int, default=200_000, help="events of the bulk load")
    commands.add_argument("--seconds", type=float, default=10, help="single-event load time")
    commands.add_argument("--rate", type=float, default=5, help="events a second, live window")
    commands.add_argument(
        "--only", nargs="*", choices=("restart", "bulk", "rebuild", "live", "workers")
    )
    return commands


def run_fresh(
    deals: int, count: int, bulk: int, seconds: float, only: list[str] | None = None
) -> dict[str, Any]:
    """On a fresh embedded PostgreSQL, `only` some of the steps if given."""
    namespace = argparse.Namespace(
        database=None, deals=deals, count=count, bulk=bulk, seconds=seconds, only=only, rate=5.0
    )
    with embedded_server() as url:
        namespace.database = url
        return asyncio.run(main(namespace))


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.database is None:
        run_fresh(
            arguments.deals, arguments.count, arguments.bulk, arguments.seconds, arguments.only
        )
    else:
        asyncio.run(main(arguments))

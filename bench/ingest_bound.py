"""How far batch ingestion as served can go on this machine: the bound, measured beside it.

`python bench/ingest_bound.py [--deals N] [--quick]`, on a fresh embedded PostgreSQL 18.

The service is one Python process: its request path and its projector share one interpreter,
so one core at most, whatever else the machine has. Three measurements, each ratio against the
raw asyncpg ceiling measured in alternation within the same comparison (`bench/ingest.py`):

1. HTTP batches with the projector off (`FUNNEL_RUN_PROJECTOR=false`): the request path's
   service CPU per event;
2. the projector catching up those events in this process, in rounds as large as the service
   gathers under load (`GATHER_UNDER_LOAD_SECONDS` of appends): its own CPU per event and the
   database's (every process of the server);
3. the service as `serve` runs it (projector in the process), acknowledged and end to end.

From 1 and 2 it prints the bounds of 3 that one interpreter sets: acknowledged, the request
path alone (the projector deferred entirely); end to end, the request path and the projector's
Python together; and the Python CPU per event the goals (0.5 x and 0.4 x) would allow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from sqlalchemy.engine import make_url

from bench import ingest
from bench.datagen import Shape, history
from bench.infra import calibrate, sql, start_service
from bench.run import RESULTS, prepare, say
from service.embedded import EmbeddedPostgres
from service.store.database.engines import create_engine
from service.store.projection.history_cache import HistoryCache
from service.store.projection.projector import (
    GATHER_UNDER_LOAD_SECONDS,
    KEPT_HISTORIES,
    project_once,
)

BATCH = 2000
"""The projector's batch (`FUNNEL_PROJECTOR_BATCH_SIZE`'s default)."""
ACKNOWLEDGED_GOAL = 0.5
END_TO_END_GOAL = 0.4


class DatabaseCpu:
    """CPU time used by every process of one PostgreSQL server (postmaster and backends)."""

    def __init__(self, pgdata: Path) -> None:
        self._postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))

    def seconds(self) -> float:
        """User and system time so far, of the processes alive now (ended backends drop out:
        measure spans within which the connections stay open)."""
        total = 0.0
        for process in [self._postmaster, *self._postmaster.children()]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


async def database(url: str, name: str) -> tuple[str, str]:
    """A new migrated database of the server, and an admin token for it."""
    await sql(url, f"CREATE DATABASE {name}")
    other = make_url(url).set(database=name).render_as_string(hide_password=False)
    return other, await prepare(other)


async def projector_cost(url: str, rounds: int, server_cpu: DatabaseCpu) -> dict[str, float]:
    """The running projector's work on the whole log, from empty read models, in `rounds`-event
    rounds resumed from its kept histories: wall, own CPU and the database's, per event."""
    engine = create_engine(url, pool_size=2)
    histories = HistoryCache(KEPT_HISTORIES)
    try:
        async with engine.connect() as conn:  # the pool's connections open before measuring
            await conn.exec_driver_sql("SELECT 1")
        began, own, db = time.perf_counter(), time.process_time(), server_cpu.seconds()
        projected = 0
        while count := await project_once(
            engine, BATCH, far_behind=BATCH, window=rounds, histories=histories
        ):
            projected += count
        wall = time.perf_counter() - began
        own_s, db_s = time.process_time() - own, server_cpu.seconds() - db
    finally:
        await engine.dispose()
    return {
        "events": projected,
        "round_events": rounds,
        "events_per_s": projected / wall,
        "python_cpu_us_per_event": own_s / projected * 1e6,
        "database_cpu_us_per_event": db_s / projected * 1e6,
    }


def bounds(off: dict[str, Any], projector: dict[str, float]) -> dict[str, float]:
    """What one interpreter allows, as ratios to the raw ceiling of the projector-off run."""
    raw = off["raw_events_per_s"]
    request_us = off["service_cpu_us_per_event"]
    both_us = request_us + projector["python_cpu_us_per_event"]
    return {
        "acknowledged_bound": 1e6 / request_us / raw,
        "end_to_end_bound": 1e6 / both_us / raw,
        "python_us_per_event_for_acknowledged_goal": 1e6 / (ACKNOWLEDGED_GOAL * raw),
        "python_us_per_event_for_end_to_end_goal": 1e6 / (END_TO_END_GOAL * raw),
        "request_path_us_per_event": request_us,
        "request_path_and_projector_us_per_event": both_us,
    }


async def measure(url: str, server_cpu: DatabaseCpu, deals: int) -> dict[str, Any]:
    """Every figure of the module's description, on the fresh server at `url`."""
    events = history(Shape(deals=deals))
    say("events generated", f"{len(events)} ({deals} deals)")
    figures: dict[str, Any] = {"events": len(events), "calibration_s": [calibrate()]}
    say("calibration (fixed CPU work), s", figures["calibration_s"][0])
    off_url, token = await database(url, "bound_projector_off")
    service = start_service(off_url, projector=False)
    try:
        figures["projector_off"] = off = await ingest.compare(off_url, service, token, events)
    finally:
        service.stop()
    say("projector off: ratio to raw", round(off["ratio"], 3))
    say("  request path, service CPU µs/event", round(off["service_cpu_us_per_event"], 1))
    rounds = max(BATCH, round(off["events_per_s"] * GATHER_UNDER_LOAD_SECONDS))
    figures["projector"] = projector = await projector_cost(off_url, rounds, server_cpu)
    say(f"projector, rounds of {rounds} events, events/s", round(projector["events_per_s"]))
    say("  its Python CPU µs/event", round(projector["python_cpu_us_per_event"], 1))
    say("  database CPU µs/event", round(projector["database_cpu_us_per_event"], 1))
    served_url, token = await database(url, "bound_as_served")
    service = start_service(served_url, projector=True)
    try:
        figures["as_served"] = served = await ingest.compare(
            served_url, service, token, events, end_to_end=True
        )
    finally:
        service.stop()
    say("as served: acknowledged ratio (goal >= 0.5)", round(served["ratio"], 3))
    say("  end-to-end ratio (goal >= 0.4)", round(served["end_to_end_ratio"], 3))
    say(
        "  service RSS start / peak, MB",
        f"{served['rss_start_mb']:.0f} / {served['rss_peak_mb']:.0f}",
    )
    figures["bounds"] = bounds(off, projector)
    for name, value in figures["bounds"].items():
        say(name.replace("_", " "), round(value, 3 if name.endswith("bound") else 1))
    figures["calibration_s"].append(calibrate())
    say("calibration at the end, s", figures["calibration_s"][-1])
    return figures


def run(deals: int) -> dict[str, Any]:
    """`measure` on a fresh embedded PostgreSQL, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="funnel-bound-") as tmp:
        Path(tmp).chmod(0o755)
        server = EmbeddedPostgres(Path(tmp))
        url = server.start()
        try:
            return asyncio.run(measure(url, DatabaseCpu(server.pgdata), deals))
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deals", type=int, default=100_000, help="about ten events a deal")
    parser.add_argument("--quick", action="store_true", help="2 000 deals, to check it runs")
    args = parser.parse_args()
    result = run(2_000 if args.quick else args.deals)
    RESULTS.mkdir(exist_ok=True)
    name = "ingest_bound_quick.json" if args.quick else "ingest_bound.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str))

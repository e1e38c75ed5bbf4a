"""Run the benchmark suite and print its figures: `python bench/run.py [--quick]`.

Everything runs on this machine in one run, against a fresh embedded PostgreSQL: ratios
against the raw ceiling and a peer measured in the same run are what to compare across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import ingest, peer, read_paths, reads, single
from bench.datagen import Shape, history
from bench.infra import calibrate, embedded_server, start_service
from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine
from service.store.database.migrate import upgrade_to_head
from service.store.projection.projector import project_once
from service.store.projection.rebuild import rebuild

RESULTS = Path(__file__).resolve().parent / "results"


def say(label: str, value: Any) -> None:
    """Print one figure as it is measured."""
    print(f"{label:<48} {value}", flush=True)


async def prepare(url: str) -> str:
    """Migrate the database and create an admin key; return its token."""
    engine = create_engine(url, pool_size=2)
    await upgrade_to_head(engine)
    token = (await KeyStore(engine).create("bench", frozenset({Scope.ADMIN}))).token
    await engine.dispose()
    return token


async def projector_figures(url: str, events: int, budget_s: float = 60) -> dict[str, float]:
    """Catch-up rate from an empty read model (for at most `budget_s`), then a full rebuild."""
    engine = create_engine(url, pool_size=4)
    began = time.perf_counter()
    projected = 0
    while time.perf_counter() - began < budget_s:
        count = await project_once(engine, 2000)
        if not count:
            break
        projected += count
    catch_up_s = time.perf_counter() - began
    began = time.perf_counter()
    report = await rebuild(engine)
    rebuild_s = time.perf_counter() - began
    await engine.dispose()
    return {
        "catch_up_events_per_s": projected / catch_up_s,
        "catch_up_s": catch_up_s,
        "rebuild_s": rebuild_s,
        "rebuild_events_per_s": report.events / rebuild_s,
        "events": events,
    }


async def main(quick: bool) -> dict[str, Any]:
    shape = Shape(deals=2_000 if quick else 100_000)
    figures: dict[str, Any] = {
        "quick": quick,
        "machine": {
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
        },
        "started": datetime.now(UTC).isoformat(),
    }
    events = history(shape)
    say("events generated", f"{len(events)} ({shape.deals} deals)")
    with embedded_server() as url:
        token = await prepare(url)
        figures["calibration_s"] = [calibrate()]
        say("calibration (fixed CPU work), s", figures["calibration_s"][0])
        server = start_service(url, projector=False)
        try:
            ours = await ingest.compare(url, server, token, events)
        finally:
            server.stop()
        say("raw asyncpg ceiling (1000-row tx), events/s", round(ours["raw_events_per_s"]))
        say("HTTP ingest (1000-event batches), events/s", round(ours["events_per_s"]))
        say("  ratio to raw ceiling (goal >= 0.5)", round(ours["ratio"], 3))
        say("  service CPU per event, µs", round(ours["service_cpu_us_per_event"], 1))
        say(
            "  service RSS start/peak MB", f"{ours['rss_start_mb']:.0f} / {ours['rss_peak_mb']:.0f}"
        )
        say(
            "  RSS max in first/last quarter MB",
            f"{ours['rss_first_quarter_mb']:.0f} / {ours['rss_last_quarter_mb']:.0f}",
        )
        figures["ingest"] = ours
        known_past = datetime.now(UTC).isoformat()
        # The peer right after our ingestion, so that both are measured at about the same time.
        figures["peer"] = await peer.compare(url, events[: 2_000 if quick else 20_000])
        for name, value in figures["peer"].items():
            say(f"peer {name}", value)
        projection = await projector_figures(url, len(events))
        say("projector catch-up, events/s", round(projection["catch_up_events_per_s"]))
        say("rebuild of all events, s (goal < 20 at 1M)", round(projection["rebuild_s"], 2))
        say("  rebuild events/s (goal >= 50k)", round(projection["rebuild_events_per_s"]))
        figures["projection"] = projection
        server = start_service(url, projector=True)
        try:
            figures["reads"] = await reads.read_latencies(
                server, token, known_past, 10 if quick else 40
            )
            for name, value in figures["reads"].items():
                say(f"read {name}", value)
            figures["single"] = await single.compare(url, server, token, 3 if quick else 10)
            for name, value in figures["single"].items():
                say(f"single-event c=16 {name}", value)
        finally:
            server.stop()
        figures["read_paths"] = await read_paths.in_suite(url, shape.deals, quick)
        figures["peer_ratios"] = peer_ratios(figures)
        for name, value in figures["peer_ratios"].items():
            say(f"ours vs peer {name}", value)
    figures["calibration_s"].append(calibrate())
    say("calibration at the end, s", figures["calibration_s"][-1])
    return figures


def peer_ratios(figures: dict[str, Any]) -> dict[str, float]:
    """Our ingestion against the peer's: batches against its one-save-per-event and bulk
    rates (the goals), and one event per request against one save per event (for reference)."""
    found = figures["peer"]
    if "single_save_events_per_s" not in found:
        return {}
    ours_batches = figures["ingest"]["events_per_s"]
    ours_single = figures["single"]["ours"]["requests_per_s"]
    return {
        "batches / single saves (goal >= 10)": round(
            ours_batches / found["single_save_events_per_s"], 2
        ),
        "batches / bulk saves (goal >= 2)": round(
            ours_batches / found["bulk_save_events_per_s"], 2
        ),
        "single requests / single saves": round(ours_single / found["single_save_events_per_s"], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, about a minute")
    args = parser.parse_args()
    began = time.perf_counter()
    result = asyncio.run(main(args.quick))
    result["seconds"] = round(time.perf_counter() - began, 1)
    RESULTS.mkdir(exist_ok=True)
    name = "quick.json" if args.quick else "full.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str))
    say("total seconds", result["seconds"])

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

from sqlalchemy.engine import make_url

from bench import ingest, peer, read_paths, reads, single
from bench.datagen import Shape, history
from bench.infra import calibrate, embedded_server, sql, start_service
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


def say_ingest(title: str, figures: dict[str, Any]) -> None:
    """Print one ingestion comparison."""
    say(f"{title}, events/s", round(figures["events_per_s"]))
    say("  raw asyncpg ceiling in alternation, events/s", round(figures["raw_events_per_s"]))
    say("  ratio to raw ceiling (goal >= 0.5)", round(figures["ratio"], 3))
    say("  service CPU per event, µs", round(figures["service_cpu_us_per_event"], 1))
    if "end_to_end_events_per_s" in figures:
        say(
            "  end to end (visible in /v1/scoreboard), events/s",
            round(figures["end_to_end_events_per_s"]),
        )
        say(
            "  end-to-end ratio to raw ceiling (goal >= 0.4)", round(figures["end_to_end_ratio"], 3)
        )
        say("  s from last ack to visible, summed", round(figures["visible_after_last_ack_s"], 2))
        say(
            "  service CPU per event to visible, µs",
            round(figures["end_to_end_service_cpu_us_per_event"], 1),
        )
    say(
        "  service RSS start/peak MB",
        f"{figures['rss_start_mb']:.0f} / {figures['rss_peak_mb']:.0f}",
    )
    say(
        "  RSS max in first/last quarter MB",
        f"{figures['rss_first_quarter_mb']:.0f} / {figures['rss_last_quarter_mb']:.0f}",
    )


async def ingestion(url: str, token: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline: the service as `serve` runs it by default (projector in the process),
    acknowledged and end to end, each against the raw ceiling measured in alternation."""
    server = start_service(url, projector=True)
    try:
        return await ingest.compare(url, server, token, events, end_to_end=True)
    finally:
        server.stop()


async def ingestion_without_projector(
    url: str, events: list[dict[str, Any]], peer_events: int
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The same events into a second database of the same server, the projector switched off
    (`FUNNEL_RUN_PROJECTOR=false`, no projector anywhere), then the peer right after it, in
    the same configuration as the peer's (no projection). Returns both and that database."""
    other = make_url(url).set(database="bench_no_projector").render_as_string(hide_password=False)
    await sql(url, "CREATE DATABASE bench_no_projector")
    token = await prepare(other)
    server = start_service(other, projector=False)
    try:
        figures = await ingest.compare(other, server, token, events)
    finally:
        server.stop()
    return figures, await peer.compare(other, events[:peer_events]), other


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
        "configurations": CONFIGURATIONS,
    }
    events = history(shape)
    say("events generated", f"{len(events)} ({shape.deals} deals)")
    with embedded_server() as url:
        token = await prepare(url)
        figures["calibration_s"] = [calibrate()]
        say("calibration (fixed CPU work), s", figures["calibration_s"][0])
        figures["ingest"] = await ingestion(url, token, events)
        say_ingest("HTTP ingest, projector in the service (as served)", figures["ingest"])
        known_past = datetime.now(UTC).isoformat()
        off, figures["peer"], other = await ingestion_without_projector(
            url, events, 2_000 if quick else 20_000
        )
        figures["ingest_no_projector"] = off
        say_ingest("HTTP ingest, projector off (as the peer)", off)
        for name, value in figures["peer"].items():
            say(f"peer {name}", value)
        # Catch-up and rebuild on the second database, whose read models are still empty.
        projection = await projector_figures(other, len(events))
        say("projector catch-up, events/s", round(projection["catch_up_events_per_s"]))
        say("rebuild of all events, s (goal < 20 at 1M)", round(projection["rebuild_s"], 2))
        say("  rebuild events/s (goal >= 50k)", round(projection["rebuild_events_per_s"]))
        figures["projection"] = projection
        await sql(url, "DROP DATABASE bench_no_projector")
        # Reads and single events on the first database, projected live during its ingestion.
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


CONFIGURATIONS = {
    "ingest": "serve as by default: one uvicorn worker, projector in the process; 2 clients, "
    "1000-event batches; end to end = until GET /v1/scoreboard (eventual) states the head",
    "ingest_no_projector": "the same with FUNNEL_RUN_PROJECTOR=false and no projector anywhere, "
    "on a second database of the same server",
    "peer": "eventsourcing's PostgreSQL recorder in this process, no projection, no HTTP",
    "projection": "project_once from an empty read model, then rebuild, in this process",
    "reads": "serve as by default, on the database projected live during the ingest",
    "single": "serve as by default; load from a separate process, concurrency 16",
}


def peer_ratios(figures: dict[str, Any]) -> dict[str, float]:
    """Our ingestion against the peer's, in the peer's configuration (no projector): batches
    against its one-save-per-event and bulk rates (the goals); as served, acknowledged and
    end to end, beside them; one event per request against one save per event (reference)."""
    found = figures["peer"]
    if "single_save_events_per_s" not in found:
        return {}
    bulk, single_saves = found["bulk_save_events_per_s"], found["single_save_events_per_s"]
    no_projector = figures["ingest_no_projector"]["events_per_s"]
    served = figures["ingest"]
    ours_single = figures["single"]["ours"]["requests_per_s"]
    return {
        "no projector: batches / bulk saves (goal >= 1)": round(no_projector / bulk, 2),
        "no projector: batches / single saves (goal >= 10)": round(no_projector / single_saves, 2),
        "as served: acknowledged batches / bulk saves": round(served["events_per_s"] / bulk, 2),
        "as served: end to end / bulk saves": round(served["end_to_end_events_per_s"] / bulk, 2),
        "single requests / single saves": round(ours_single / single_saves, 2),
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

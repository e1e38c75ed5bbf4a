"""Audit figures on a quarter of 250 k events: `python bench/audit.py [--events N]`.

Loads a generated history (most of it inside 2026-Q1, some before and after it) through the
real appender into a fresh embedded PostgreSQL, projects it, then times the audit replay, the
export and its stand-alone verification, and the full chain walk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.infra import append_history, embedded_server
from service.audit.export import ExportScope, export_lines
from service.audit.replay import replay
from service.store.chain.verifier import ChainVerifier
from service.store.database.engines import create_engine
from service.store.database.migrate import upgrade_to_head
from service.store.database.snapshots import repeatable_read
from service.store.log.transaction_time import sealed_now
from service.store.projection import checkpoints
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import READ_MODELS

ROOT = Path(__file__).resolve().parents[1]
Q1 = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("lead.sourced", {"account": {"name": "Acme"}, "channel": "web"}),
    ("visit.completed", {"kind": "FSI"}),
    ("call.logged", {"direction": "outbound", "duration_s": 300}),
    ("deal.qualified", {"amount": "120000.00", "currency": "TWD"}),
    ("visit.completed", {"kind": "FUA"}),
    ("deal.eb_committed", {"eb": {"name": "Ms. Chen"}}),
    ("deal.committee_approved", {}),
    ("visit.completed", {"kind": "FUA"}),
    ("deal.contract_signed", {"amount": "125000.00", "currency": "TWD", "contract_id": "C"}),
)


def say(label: str, value: Any) -> None:
    """Print one figure as it is measured."""
    print(f"{label:<52} {value}", flush=True)


def history(events: int, seed: int = 11) -> list[dict[str, Any]]:
    """About `events` deal events, 90 % of them in 2026-Q1, with 0.2 % retracted."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    deal = 0
    while len(out) < events:
        deal += 1
        rep = f"R-{rng.randrange(60):03d}"
        when = datetime(2025, 12, 20, tzinfo=UTC) + timedelta(seconds=rng.randrange(100 * 86400))
        for step, (kind, data) in enumerate(STEPS[: rng.randrange(3, len(STEPS) + 1)]):
            when += timedelta(hours=rng.randrange(1, 72))
            out.append(
                {
                    "specversion": "1.0",
                    "id": f"a-{deal}-{step}",
                    "source": "bench",
                    "type": kind,
                    "subject": f"D-{deal:06d}",
                    "time": when.isoformat(),
                    "data": {"rep_id": rep, **data},
                }
            )
    out.sort(key=lambda event: event["time"])
    visits = [e for e in out if e["type"] == "visit.completed"]
    out.extend(_retraction(target) for target in rng.sample(visits, len(out) // 500))
    return out


def _retraction(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"x-{target['id']}",
        "source": "bench",
        "type": "event.retracted",
        "subject": target["subject"],
        "time": target["time"],
        "data": {
            "rep_id": target["data"]["rep_id"],
            "event_source": "bench",
            "event_id": target["id"],
            "reason": "duplicate",
        },
    }


async def load(url: str, events: list[dict[str, Any]]) -> None:
    """Migrate, append in 1000-event transactions, project everything."""
    engine = create_engine(url, pool_size=4)
    await upgrade_to_head(engine)
    seconds = await append_history(engine, events)
    say("appended events (1000 per transaction), s", round(seconds, 1))
    began = time.perf_counter()
    await catch_up(engine, batch_size=5000)
    say("projected them, s", round(time.perf_counter() - began, 1))
    await engine.dispose()


async def measure(url: str) -> dict[str, float]:
    """Time replay, export, the stand-alone verifier and the chain walk."""
    figures: dict[str, float] = {}
    engine = create_engine(url, pool_size=4)
    known_at = await sealed_now(engine)
    for attempt in range(2):
        began, cpu = time.perf_counter(), time.process_time()
        async with repeatable_read(engine) as conn:
            position = (await checkpoints.load(conn, READ_MODELS)).position
            report = await replay(
                conn, start=Q1[0], end=Q1[1], known_at=known_at, read_models_position=position
            )
        figures[f"replay_s_{attempt}"] = time.perf_counter() - began
        figures[f"replay_cpu_s_{attempt}"] = time.process_time() - cpu
    figures["events_considered"] = report.events_considered
    figures["projection_matches"] = float(bool(report.projection_matches))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q1.ndjson"
        began, cpu = time.perf_counter(), time.process_time()
        async with repeatable_read(engine) as conn:
            with path.open("wb") as sink:
                async for chunk in export_lines(conn, ExportScope(*Q1, known_at, "UTC")):
                    sink.write(chunk)
        figures["export_s"] = time.perf_counter() - began
        figures["export_cpu_s"] = time.process_time() - cpu
        figures["export_mb"] = path.stat().st_size / 1e6
        began = time.perf_counter()
        checked = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-I", "-S", str(ROOT / "tools" / "verify_export.py"), str(path)],
            capture_output=True,
            check=False,
        )
        figures["verify_export_s"] = time.perf_counter() - began
        tool = json.loads(checked.stdout)
        figures["tool_agrees"] = float(
            tool["ok"]
            and tool["digest"] == report.digest
            and tool["events"] == report.events_considered
        )
    began, cpu = time.perf_counter(), time.process_time()
    async with repeatable_read(engine) as conn:
        chain = await ChainVerifier(conn).verify()
    figures["verify_chain_s"] = time.perf_counter() - began
    figures["verify_chain_cpu_s"] = time.process_time() - cpu
    figures["chain_events"] = chain.head_position
    figures["chain_ok"] = float(chain.ok)
    await engine.dispose()
    return figures


async def main(events: int) -> None:
    """Generate, load and measure."""
    generated = history(events)
    in_q1 = sum(1 for e in generated if Q1[0].isoformat() <= e["time"] < Q1[1].isoformat())
    say("events generated (in 2026-Q1)", f"{len(generated)} ({in_q1})")
    with embedded_server() as url:
        await load(url, generated)
        for name, value in (await measure(url)).items():
            say(name, round(value, 2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=250_000)
    asyncio.run(main(parser.parse_args().events))

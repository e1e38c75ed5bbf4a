"""Single-event ingestion at concurrency 16, ours versus a bare FastAPI + asyncpg endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.infra import Process, free_port, sql, start_process, start_service

HERE = Path(__file__).resolve().parent
SETTLE_S = 1.0


def load(url: str, path: str, token: str, seconds: float, body_kind: str) -> dict[str, Any]:
    """Run the load generator in its own process and read its JSON figures."""
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "load.py"),
            "--url",
            url + path,
            "--token",
            token,
            "--seconds",
            str(seconds),
            "--concurrency",
            "16",
            "--body",
            body_kind,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def combined(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Several load windows as one: requests/s over their total time, the median of their p50s
    and the worst of their p99s."""
    requests = sum(w["requests"] for w in windows)
    seconds = sum(w["requests"] / w["requests_per_s"] for w in windows)
    return {
        "requests_per_s": round(requests / seconds, 1),
        "p50_ms": round(statistics.median(w["p50_ms"] for w in windows), 2),
        "p99_ms": max(w["p99_ms"] for w in windows),
        "requests": requests,
        "errors": sum(w["errors"] for w in windows),
        "windows_requests_per_s": [w["requests_per_s"] for w in windows],
    }


async def compare(
    database_url: str, server: Process, token: str, seconds: float, windows: int = 4
) -> dict[str, Any]:
    """Requests/s, p50 and p99 for ours and for the bare endpoint, and their ratio.

    Both servers run at once and are loaded in turn, `windows` times each (bare, ours, bare,
    ours, …), so that a change in the shared machine's speed weighs on both alike.
    """
    await sql(
        database_url,
        "CREATE TABLE IF NOT EXISTS bare_events (id bigserial PRIMARY KEY, "
        "source text NOT NULL, event_id text NOT NULL, type text NOT NULL, subject text "
        "NOT NULL, time timestamptz NOT NULL, data jsonb NOT NULL, UNIQUE (source, event_id))",
    )
    port = free_port()
    bare = start_process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
        ],
        {"DATABASE_URL": database_url},
        port,
    )
    bare_runs: list[dict[str, Any]] = []
    ours_runs: list[dict[str, Any]] = []
    try:
        for _ in range(windows):
            bare_runs.append(load(bare.base, "/events", token, seconds / windows, "bare"))
            ours_runs.append(load(server.base, "/v1/events", token, seconds / windows, "ours"))
            await asyncio.sleep(SETTLE_S)  # our projector folds what the window wrote
    finally:
        bare.stop()
    ours, bare_figures = combined(ours_runs), combined(bare_runs)
    split = _with_projector_apart(database_url, token, seconds)
    return {
        "ours": ours,
        "bare": bare_figures,
        "ratio": round(ours["requests_per_s"] / bare_figures["requests_per_s"], 3),
        "ours_projector_apart": split,
        "ratio_projector_apart": round(split["requests_per_s"] / bare_figures["requests_per_s"], 3),
    }


def _with_projector_apart(database_url: str, token: str, seconds: float) -> dict[str, Any]:
    """Ours again, the projector in a process of its own (`funnel-ledger project`)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    projector = subprocess.Popen(
        [sys.executable, "-m", "service", "project"],
        env=env,
        cwd=HERE.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = start_service(database_url, projector=False)
    try:
        return load(server.base, "/v1/events", token, seconds, "ours")
    finally:
        server.stop()
        projector.terminate()
        projector.wait(30)

"""Single-event ingestion at concurrency 16, ours versus a bare FastAPI + asyncpg endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.infra import Process, free_port, sql, start_process, start_service

HERE = Path(__file__).resolve().parent


def _load(url: str, path: str, token: str, seconds: float, body_kind: str) -> dict[str, Any]:
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


async def compare(database_url: str, server: Process, token: str, seconds: float) -> dict[str, Any]:
    """Requests/s, p50 and p99 for ours and for the bare endpoint, and their ratio."""
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
    try:
        bare_figures = _load(bare.base, "/events", token, seconds, "bare")
    finally:
        bare.stop()
    ours = _load(server.base, "/v1/events", token, seconds, "ours")
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
        return _load(server.base, "/v1/events", token, seconds, "ours")
    finally:
        server.stop()
        projector.terminate()
        projector.wait(30)

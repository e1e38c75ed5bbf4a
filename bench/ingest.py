"""Ingestion: the raw asyncpg ceiling versus our HTTP ingestion of 1000-event batches.

The two are measured in alternating slices of the same events (raw, ours, raw, ours, …), so
that a change in the machine's speed during the run (it is shared) weighs on both alike. With
the projector running, each of our slices is also timed end to end: from its first batch sent
until `/v1/scoreboard` reflects every event acknowledged.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import orjson

from bench.datagen import batches
from bench.infra import Process, asyncpg_dsn

_RAW_INSERT = """
INSERT INTO raw_events (position, subject, stream_version, source, event_id, type, occurred_at,
                        recorded_at, data, metadata, fingerprint, hash)
SELECT u.position, u.subject, u.stream_version, u.source, u.event_id, u.type, u.occurred_at,
       now(), u.data::jsonb, '{}'::jsonb, u.fp, u.fp
FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[], $8::text[], $9::bytea[])
     AS u(position, subject, stream_version, source, event_id, type, occurred_at, data, fp)
"""
BATCH = 1000
SLICES = 8
POLL_S = 0.02
VISIBLE_BUDGET_S = 300
_VISIBLE = {"period": "2026-Q1", "consistency": "eventual"}


def _raw_rows(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows the raw ceiling inserts, made before any timing."""
    versions: dict[str, int] = {}
    rows = []
    for position, event in enumerate(events, 1):
        version = versions[event["subject"]] = versions.get(event["subject"], 0) + 1
        data = orjson.dumps(event["data"]).decode()
        rows.append(
            (
                position,
                event["subject"],
                version,
                event["source"],
                event["id"],
                event["type"],
                datetime.fromisoformat(event["time"]),
                data,
                hashlib.sha256(data.encode()).digest(),
            )
        )
    return rows


async def _raw_append(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> float:
    """Seconds for bare asyncpg to append `rows` in `BATCH`-row transactions."""
    began = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        async with conn.transaction():
            await conn.execute(_RAW_INSERT, *map(list, zip(*chunk, strict=True)))
    return time.perf_counter() - began


async def _http_append(
    server: Process, headers: dict[str, str], bodies: list[bytes], clients: int
) -> float:
    """Seconds for `clients` concurrent clients to POST `bodies` to /v1/events."""
    queue = list(reversed(bodies))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
            while queue:
                response = await http.post("/v1/events", content=queue.pop(), headers=headers)
                if response.status_code not in (200, 201):
                    raise RuntimeError(
                        f"ingest failed: {response.status_code} {response.text[:300]}"
                    )

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - began


def _slices(count: int, parts: int) -> Iterator[slice]:
    """`parts` consecutive slices of `range(count)`, each a whole number of batches."""
    step = max(BATCH, -(-count // parts // BATCH) * BATCH)
    for start in range(0, count, step):
        yield slice(start, min(start + step, count))


async def _until_visible(server: Process, headers: dict[str, str]) -> float:
    """Seconds until `/v1/scoreboard` reflects the log's head as it is now (every event
    acknowledged so far), polled every `POLL_S` without asking the projector to hurry."""
    began = time.perf_counter()
    auth = {"Authorization": headers["Authorization"]}
    async with httpx.AsyncClient(base_url=server.base, headers=auth, timeout=120) as http:
        head = (await http.get("/v1/events", params={"after": 0, "limit": 1})).json()["head"]
        while True:
            board = await http.get("/v1/scoreboard", params=_VISIBLE)
            if board.status_code != 200:
                raise RuntimeError(f"scoreboard: {board.status_code} {board.text[:300]}")
            if board.json()["position"] >= head:
                return time.perf_counter() - began
            if time.perf_counter() - began > VISIBLE_BUDGET_S:
                raise RuntimeError(f"position {head} not visible after {VISIBLE_BUDGET_S} s")
            await asyncio.sleep(POLL_S)


class _RssSampler:
    """The service's resident memory, sampled every half second in a thread."""

    def __init__(self, server: Process) -> None:
        self.server = server
        self.start = server.rss()
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append(self.server.rss())

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        """Start, peak, and the peaks of the first and last quarter of the samples, in MB."""
        samples = self.samples or [self.start]
        quarter = max(1, len(samples) // 4)
        return {
            "rss_start_mb": self.start / 2**20,
            "rss_peak_mb": max(samples) / 2**20,
            "rss_first_quarter_mb": max(samples[:quarter]) / 2**20,
            "rss_last_quarter_mb": max(samples[-quarter:]) / 2**20,
        }


async def compare(
    database_url: str,
    server: Process,
    token: str,
    events: list[dict[str, Any]],
    *,
    clients: int = 2,
    slices: int = SLICES,
    end_to_end: bool = False,
) -> dict[str, float]:
    """Events/s of the raw ceiling (bare asyncpg, `BATCH`-row transactions into a table like
    ours) and of POST /v1/events (`BATCH`-event batches, `clients` concurrent clients), in
    alternating slices; the service's CPU per event and its memory along the way.

    With `end_to_end` (the service's projector must be running), each slice of ours is timed
    on until the scoreboard reflects it, and the figures say so (`end_to_end_*`)."""
    rows = _raw_rows(events)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    raw_s = ours_s = cpu_s = visible_s = visible_cpu_s = 0.0
    try:
        await conn.execute("DROP TABLE IF EXISTS raw_events")
        await conn.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        with _RssSampler(server) as memory:
            for part in _slices(len(events), slices):
                raw_s += await _raw_append(conn, rows[part])
                bodies = [orjson.dumps(batch) for batch in batches(events[part], BATCH)]
                cpu = server.cpu_seconds()
                ours_s += await _http_append(server, headers, bodies, clients)
                cpu_s += server.cpu_seconds() - cpu
                if end_to_end:
                    visible_s += await _until_visible(server, headers)
                    visible_cpu_s += server.cpu_seconds() - cpu
        await conn.execute("DROP TABLE raw_events")
    finally:
        await conn.close()
    figures = {
        "raw_events_per_s": len(events) / raw_s,
        "events_per_s": len(events) / ours_s,
        "ratio": raw_s / ours_s,
        "seconds": ours_s,
        "service_cpu_us_per_event": cpu_s / len(events) * 1e6,
        **memory.figures(),
    }
    if end_to_end:
        figures |= {
            "end_to_end_events_per_s": len(events) / (ours_s + visible_s),
            "end_to_end_ratio": raw_s / (ours_s + visible_s),
            "end_to_end_seconds": ours_s + visible_s,
            "visible_after_last_ack_s": visible_s,
            "end_to_end_service_cpu_us_per_event": visible_cpu_s / len(events) * 1e6,
        }
    return figures

"""Ingestion: the raw asyncpg ceiling versus our HTTP ingestion of 1000-event batches."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
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


async def raw_ceiling(database_url: str, events: list[dict[str, Any]], size: int = 1000) -> float:
    """Events/s of bare asyncpg appending `size`-row transactions into a table like ours."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("DROP TABLE IF EXISTS raw_events")
        await conn.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        versions: dict[str, int] = {}
        prepared = []
        for position, event in enumerate(events, 1):
            version = versions[event["subject"]] = versions.get(event["subject"], 0) + 1
            data = orjson.dumps(event["data"]).decode()
            prepared.append(
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
        began = time.perf_counter()
        for start in range(0, len(prepared), size):
            chunk = prepared[start : start + size]
            async with conn.transaction():
                await conn.execute(_RAW_INSERT, *map(list, zip(*chunk, strict=True)))
        elapsed = time.perf_counter() - began
        await conn.execute("DROP TABLE raw_events")
        return len(prepared) / elapsed
    finally:
        await conn.close()


async def http_batches(
    server: Process,
    token: str,
    events: list[dict[str, Any]],
    *,
    size: int = 1000,
    clients: int = 2,
) -> dict[str, float]:
    """Events/s of POST /v1/events with `size`-event batches from `clients` concurrent clients,
    and the service's resident memory at the start, peak and end."""
    bodies = [orjson.dumps(batch) for batch in batches(events, size)]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    start_rss = server.rss()
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            samples.append(server.rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    queue = list(reversed(bodies))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
            while queue:
                body = queue.pop()
                response = await http.post("/v1/events", content=body, headers=headers)
                if response.status_code not in (200, 201):
                    raise RuntimeError(
                        f"ingest failed: {response.status_code} {response.text[:300]}"
                    )

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    stop.set()
    sampler.join()
    samples = samples or [start_rss]
    quarter = max(1, len(samples) // 4)
    return {
        "events_per_s": len(events) / elapsed,
        "seconds": elapsed,
        "rss_start_mb": start_rss / 2**20,
        "rss_peak_mb": max(samples) / 2**20,
        "rss_first_quarter_mb": max(samples[:quarter]) / 2**20,
        "rss_last_quarter_mb": max(samples[-quarter:]) / 2**20,
    }

"""Soak: ten minutes of mixed ingestion and queries → no error, memory flat. Opt-in: FUNNEL_SOAK=1."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

import httpx
import pytest

from service.keys.api_keys import Scope
from tests.reliability.checks import assert_exactly_once, read_feed
from tests.reliability.harness import ServiceProcess, issue_token
from tests.reliability.workload import Reader, Writer, batches

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(os.environ.get("FUNNEL_SOAK") != "1", reason="opt-in: set FUNNEL_SOAK=1"),
]

SECONDS = float(os.environ.get("FUNNEL_SOAK_SECONDS", "600"))
SAMPLE_SECONDS = 5.0
MIB = 1024 * 1024
ALLOWED_GROWTH = 0.10
"""Resident memory at the end may exceed its level after warm-up by this share (plus 16 MiB)."""


async def _sample_rss(service: ServiceProcess, stop: asyncio.Event, samples: list[int]) -> None:
    while not stop.is_set():
        samples.append(service.rss_bytes())
        await asyncio.sleep(SAMPLE_SECONDS)


async def test_soak_mixed_load_has_no_errors_and_flat_memory(
    database_url: str, tmp_path: Path
) -> None:
    # Given one service process and a moderate, steady mix of writes and reads
    token = await issue_token(database_url, {Scope.ADMIN})
    service = ServiceProcess({"DATABASE_URL": database_url}, tmp_path / "service.log")
    await service.start()
    stop, samples = asyncio.Event(), list[int]()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            writers = [Writer(http, service.base, token) for _ in range(2)]
            readers = [Reader(http, service.base, token) for _ in range(2)]
            tasks = [
                *(
                    asyncio.create_task(w.stream(batches(f"s{n}", size=5), stop, pause=0.2))
                    for n, w in enumerate(writers)
                ),
                *(asyncio.create_task(r.poll(stop, pause=0.1)) for r in readers),
                asyncio.create_task(_sample_rss(service, stop, samples)),
            ]
            # When it runs for the whole soak
            started = time.monotonic()
            await asyncio.sleep(SECONDS)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            elapsed = time.monotonic() - started
            feed = await read_feed(http, service.base, token)
    finally:
        service.stop()
    # Then not one request failed, and everything acknowledged is stored once
    assert not [w.retries for w in writers if w.retries]
    assert not [r.failures for r in readers if r.failures]
    assert_exactly_once(feed, [key for w in writers for key in w.acknowledged])
    events = len(feed)
    assert events / elapsed > 10, f"only {events} events in {elapsed:.0f} s"
    # And resident memory stays flat once warmed up (the first fifth of the run)
    warm = samples[len(samples) // 5 :]
    settled, last = statistics.median(warm[:5]), statistics.median(warm[-5:])
    assert last <= settled * (1 + ALLOWED_GROWTH) + 16 * MIB, (
        f"RSS grew from {settled / MIB:.0f} MiB to {last / MIB:.0f} MiB"
    )

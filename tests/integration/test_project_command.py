"""`funnel-ledger project`: the projector in a process of its own, stopped by a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import parse_event
from service.store.log.appender import EventAppender
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import READ_MODELS
from tests.factories import sourced, visit

pytestmark = pytest.mark.integration


async def _checkpoint(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await checkpoints.load(conn, READ_MODELS)).position


async def test_the_projector_process_follows_the_log_until_stopped(
    engine: AsyncEngine, database_url: str
) -> None:
    # Given a projector process on the database
    env = {**os.environ, "DATABASE_URL": database_url, "FUNNEL_PROJECTOR_POLL_SECONDS": "0.2"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "project",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        # When events are appended by someone else
        now = datetime.now(UTC)
        raws = [
            sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
            visit("D-1", "R-1", "2026-01-06T09:00:00Z"),
        ]
        results = await EventAppender(engine).append([parse_event(r, now=now) for r in raws])
        head = results[-1].position
        # Then the read models reach them
        async with asyncio.timeout(60):
            while await _checkpoint(engine) < head:
                assert process.returncode is None
                await asyncio.sleep(0.1)
    finally:
        # And a SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert "projecting" in output

"""A rebuild's spare generation is preloaded by every listening service before its swap, and a
notice that no rebuild sent is ignored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import parse_event
from service.store.database.engines import create_engine
from service.store.log.appender import EventAppender
from service.store.mirror.preload_listener import PreloadListener
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection import checkpoints
from service.store.projection.generations import BOUND, NEXT, spare_partitions, storage_of
from service.store.projection.preload_notices import (
    ACK_CHANNEL,
    CHANNEL,
    LISTENER_NAME,
    Announcement,
    SpareReady,
    announce,
)
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import READ_MODELS, Tables
from service.store.projection.rebuild import REBUILD_LOCK, rebuild
from tests.factories import qualified, signed, sourced

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4)
    now = datetime.now(UTC)
    raws = [
        sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
        qualified("D-1", "R-1", "2026-01-20T09:00:00Z"),
        sourced("D-2", "R-2", "2026-02-02T09:00:00Z"),
        signed("D-1", "R-1", "2026-02-10T09:00:00Z"),
    ]
    await EventAppender(engine).append([parse_event(raw, now=now) for raw in raws])
    await catch_up(engine, 100)
    yield engine
    await engine.dispose()


async def _warm(engine: AsyncEngine) -> tuple[ReadMirror, PreloadListener]:
    mirror = ReadMirror(engine)
    mirror.follow()
    await mirror.loaded_once()
    listener = PreloadListener(engine, mirror)
    listener.start()
    await asyncio.wait_for(listener.listening(), 10)
    return mirror, listener


async def _answers_from_memory(engine: AsyncEngine, mirror: ReadMirror) -> bool:
    """Whether the copy answers a snapshot of the live read models without a full load."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            position = (await checkpoints.load(conn, READ_MODELS)).position
            return await mirror.columns_at(conn, position) is not None


async def test_every_listening_service_preloads_a_rebuild_by_another_process(
    engine: AsyncEngine,
) -> None:
    # Given two serving processes' copies, warm and listening
    services = [await _warm(engine) for _ in range(2)]
    announced: list[Announcement] = []
    preloaded: list[list[tuple[int, int] | None]] = []

    async def before_swap(spare: Tables, position: int) -> None:
        announced.append(await announce(engine, position, wait_seconds=30))
        async with engine.connect() as conn:
            storage = await storage_of(conn, spare)
        preloaded.append([mirror.preloaded_storage for mirror, _ in services])
        assert preloaded[-1] == [storage, storage]

    try:
        # When another process rebuilds the read models
        await rebuild(engine, before_swap=before_swap)
        # Then the rebuild waited until both had preloaded the new generation
        assert announced == [Announcement(listeners=2, acknowledged=2, timed_out=False)]
        # And after the swap both answer from memory, without a second full load
        for mirror, _ in services:
            assert await _answers_from_memory(engine, mirror)
            assert (mirror.full_loads, mirror.loading, mirror.preloaded_storage) == (1, False, None)
    finally:
        for mirror, listener in services:
            await listener.close()
            await mirror.close()


async def test_without_the_notice_a_copy_reloads_in_full_after_the_swap(
    engine: AsyncEngine,
) -> None:
    # Given a warm, listening copy
    mirror, listener = await _warm(engine)
    try:
        # When a rebuild swaps without announcing its spare
        await rebuild(engine)
        # Then the copy cannot answer the new tables: SQL answers while it reloads in full
        assert not await _answers_from_memory(engine, mirror)
        await mirror.settled()
        assert mirror.full_loads == 2
    finally:
        await listener.close()
        await mirror.close()


async def test_the_announcing_process_own_listener_is_neither_told_nor_waited_for(
    engine: AsyncEngine,
) -> None:
    mirror, listener = await _warm(engine)
    try:
        announced: list[Announcement] = []

        async def before_swap(_spare: Tables, position: int) -> None:
            announced.append(await announce(engine, position, wait_seconds=30, origin=listener.pid))

        await rebuild(engine, before_swap=before_swap)
        assert announced == [Announcement(listeners=0, acknowledged=0, timed_out=False)]
        assert mirror.preloaded_storage is None
    finally:
        await listener.close()
        await mirror.close()


async def test_a_rebuild_waits_for_a_silent_listener_only_while_it_is_connected(
    engine: AsyncEngine, database_url: str
) -> None:
    # Given a connection named as a listener that never acknowledges
    silent = await asyncpg.connect(
        database_url, server_settings={"application_name": LISTENER_NAME}
    )
    try:
        # When a rebuild announces with a short wait, the wait runs out
        began = asyncio.get_running_loop().time()
        timed_out = await announce(engine, 1, wait_seconds=1.5)
        assert timed_out == Announcement(listeners=1, acknowledged=0, timed_out=True)
        assert asyncio.get_running_loop().time() - began >= 1.5
        # And when the silent listener disconnects during a long wait, the wait ends with it
        waiting = asyncio.create_task(announce(engine, 1, wait_seconds=60))
        await asyncio.sleep(0.3)
        await silent.close()
        assert await asyncio.wait_for(waiting, 10) == Announcement(0, 0, timed_out=False)
    finally:
        if not silent.is_closed():
            await silent.close()


async def test_a_notice_no_rebuild_sent_is_ignored(engine: AsyncEngine, database_url: str) -> None:
    # Given a warm, listening copy, and someone listening for acknowledgments
    mirror, listener = await _warm(engine)
    acks: list[str] = []
    watcher = await asyncpg.connect(database_url)
    await watcher.add_listener(ACK_CHANNEL, lambda *args: acks.append(args[3]))
    forged = SpareReady(id="0" * 32, position=4, origin=0).model_dump_json()
    try:
        # When notices arrive with no rebuild under way: malformed, well formed, and well formed
        # while the rebuild lock is held but the spare is not attached
        for payload in ("{", '{"id": "x", "position": -1, "origin": 0}', forged):
            await watcher.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        async with engine.connect() as conn:
            spare = (await spare_partitions(conn)).facts
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": REBUILD_LOCK})
            await conn.execute(text(f"ALTER TABLE {NEXT.facts} DETACH PARTITION {spare}"))
            await conn.commit()
            await watcher.execute("SELECT pg_notify($1, $2)", CHANNEL, forged)
            await asyncio.sleep(1.0)
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REBUILD_LOCK})
            await conn.commit()
        # Then nothing was preloaded nor acknowledged
        assert (mirror.preloaded_storage, acks) == (None, [])
        # And a well-formed notice while a rebuild holds its lock with the spare attached is
        # acted on (the same listener, so the silence above was not a deaf one)
        async with engine.connect() as conn:
            await conn.execute(text(f"ALTER TABLE {NEXT.facts} ATTACH PARTITION {spare} {BOUND}"))
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": REBUILD_LOCK})
            await conn.commit()
            await watcher.execute("SELECT pg_notify($1, $2)", CHANNEL, forged)
            for _ in range(100):
                if acks:
                    break
                await asyncio.sleep(0.05)
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REBUILD_LOCK})
            await conn.commit()
        assert len(acks) == 1
        assert mirror.preloaded_storage is not None
    finally:
        await watcher.close()
        await listener.close()
        await mirror.close()

"""A running service's ear for rebuilds: their spare generation preloaded before the swap.

Whoever rebuilds the read models (another worker, `funnel-ledger rebuild`) announces the spare
generation just before swapping it in (`service.store.projection.preload_notices`). The listener
loads it beside the in-memory copy and acknowledges, so that after the swap the copy goes on
answering instead of reloading while SQL answers. One connection, reconnected if it drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.store.mirror.read_mirror import ReadMirror
from service.store.projection.generations import storage_of
from service.store.projection.preload_notices import (
    CHANNEL,
    LISTENER_NAME,
    SpareReady,
    acknowledge,
    parse_notice,
    spare_to_preload,
)
from service.waiting import within

KEEPALIVE_SECONDS = 30.0
"""How long the listening connection stays silent before it checks that it is still there."""
RECONNECT_SECONDS = 1.0
_log = logging.getLogger(__name__)


class PreloadListener:
    """Listens for spare-generation notices and preloads each into `mirror`, on `engine` (the
    primary, where the rebuild writes)."""

    def __init__(self, engine: AsyncEngine, mirror: ReadMirror) -> None:
        self._engine = engine
        self._mirror = mirror
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.pid = 0
        """The listening connection's backend pid; 0 while not connected."""

    def start(self) -> None:
        """Listen in the background until `close`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="preload-listener")

    async def listening(self) -> None:
        """Wait until the listening connection is up."""
        await self._listening.wait()

    async def close(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except Exception:
                _log.exception("listening for rebuilds failed; reconnecting")
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": LISTENER_NAME},
            )
            driver: Any = (await conn.get_raw_connection()).driver_connection
            latest: list[str] = []
            arrived = asyncio.Event()

            def on_notice(_conn: object, _pid: int, _channel: str, payload: str) -> None:
                latest[:] = [payload]  # a notice that waits is superseded by a newer one
                arrived.set()

            await driver.add_listener(CHANNEL, on_notice)
            self.pid = int(driver.get_server_pid())
            self._listening.set()
            try:
                while True:
                    if not await within(KEEPALIVE_SECONDS, arrived.wait()):
                        await conn.execute(text("SELECT 1"))
                        continue
                    arrived.clear()
                    notice = parse_notice(latest.pop())
                    if notice is not None and notice.origin != self.pid:
                        await self._preload(conn, notice)
            finally:
                self.pid = 0
                self._listening.clear()
                with contextlib.suppress(Exception):
                    await driver.remove_listener(CHANNEL, on_notice)
                    await conn.execute(text("RESET application_name"))

    async def _preload(self, conn: AsyncConnection, notice: SpareReady) -> None:
        """Preload the spare a real rebuild is about to swap in, once, and acknowledge."""
        spare = await spare_to_preload(conn)
        if spare is None:
            _log.warning("ignored a spare-generation notice: no rebuild is about to swap")
            return
        if self._mirror.preloaded_storage != await storage_of(conn, spare):
            await self._mirror.preload(self._engine, spare, notice.position)
        await acknowledge(conn, notice, self.pid)

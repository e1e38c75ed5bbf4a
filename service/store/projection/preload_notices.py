"""A rebuild's spare generation announced to every running service, which preloads it.

A rebuild swaps a freshly loaded generation of the read models in. A service's in-memory copy
holds the old one; without warning it would reload after the swap and answer from SQL
meanwhile. So, just before the swap, the rebuilding process (a service's own rebuild or
`funnel-ledger rebuild`) sends a notice on `CHANNEL`; every service listening (one connection
each, named `LISTENER_NAME`) loads the spare generation beside its copy and acknowledges on
`ACK_CHANNEL`; the rebuild swaps once every listener of its database role has acknowledged, has
gone, or `wait_seconds` have passed.

The notice names no table: a listener finds the spare partitions in the catalogue itself, and
acts only while the rebuild lock is held and the spare is attached to its `_next` parents (so a
notice from anyone else costs at most one preload per real rebuild).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.store.projection.generations import NEXT, spare_partitions
from service.store.projection.read_model_writer import Tables
from service.store.projection.rebuild import REBUILD_LOCK

CHANNEL = "funnel_ledger_spare_ready"
ACK_CHANNEL = "funnel_ledger_spare_loaded"
LISTENER_NAME = "funnel-ledger preload listener"
"""The `application_name` of each service's listening connection: how a rebuild counts them."""
RECHECK_SECONDS = 1.0
"""How often a waiting rebuild looks again at which listeners are still connected."""
_LISTENERS = text(
    "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
    "AND datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()"
)
_ATTACHED = text(
    "SELECT count(*) FROM pg_inherits WHERE inhparent = CAST(:parent AS regclass) "
    "AND inhrelid = CAST(:partition AS regclass)"
)
_REBUILD_LOCK_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND a.usename = current_user "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid::bigint = (CAST(:key AS bigint) >> 32) "
    "AND l.objid::bigint = (CAST(:key AS bigint) & 4294967295) AND l.objsubid = 1)"
)
_log = logging.getLogger(__name__)


class SpareReady(BaseModel):
    """The notice: a rebuild's spare generation is loaded and indexed up to `position`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    position: int = Field(ge=0, le=2**63 - 1)
    origin: int = Field(ge=0, le=2**31 - 1)
    """The backend pid of the announcing process's own listener (0: none), which skips it."""


class SpareLoaded(BaseModel):
    """The acknowledgment: the listener with backend pid `pid` has preloaded notice `id`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    pid: int = Field(ge=1, le=2**31 - 1)


def parse_notice(payload: str) -> SpareReady | None:
    """The notice in `payload`, or None if it is not one (logged, never raised)."""
    try:
        return SpareReady.model_validate_json(payload)
    except ValidationError:
        _log.warning("ignored a malformed spare-generation notice (%d bytes)", len(payload))
        return None


@dataclass(frozen=True, slots=True)
class Announcement:
    """How the listeners answered a rebuild's notice."""

    listeners: int
    acknowledged: int
    timed_out: bool


async def announce(
    engine: AsyncEngine, position: int, *, wait_seconds: float, origin: int = 0
) -> Announcement:
    """Tell every listening service that the spare generation is ready up to `position`, and
    wait up to `wait_seconds` until each has preloaded it or disconnected.

    `origin` is the backend pid of the caller's own listener, which is neither told nor waited
    for (its process preloads by itself). Nobody listening: returns at once.
    """
    notice = SpareReady(id=secrets.token_hex(16), position=position, origin=origin)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        acked: set[int] = set()
        arrived = asyncio.Event()

        def on_ack(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            try:
                ack = SpareLoaded.model_validate_json(payload)
            except ValidationError:
                return
            if ack.id == notice.id:
                acked.add(ack.pid)
                arrived.set()

        driver: Any = (await conn.get_raw_connection()).driver_connection
        await driver.add_listener(ACK_CHANNEL, on_ack)
        try:
            expected = await _listeners(conn, origin)
            if not expected:
                return Announcement(0, 0, timed_out=False)
            _log.info(
                "waiting up to %.0f s for %d serving processes to preload the rebuilt read models",
                wait_seconds,
                len(expected),
            )
            await conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": notice.model_dump_json()},
            )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_seconds
            while not expected <= acked:
                left = deadline - loop.time()
                if left <= 0:
                    _log.warning(
                        "swapping the rebuilt read models before %d of %d services preloaded "
                        "them; those answer from SQL until they reload",
                        len(expected - acked),
                        len(expected),
                    )
                    return Announcement(len(expected), len(expected & acked), timed_out=True)
                arrived.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(RECHECK_SECONDS, left)):
                        await arrived.wait()
                expected &= await _listeners(conn, origin) | acked
            return Announcement(len(expected), len(expected), timed_out=False)
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(ACK_CHANNEL, on_ack)


async def _listeners(conn: AsyncConnection, origin: int) -> set[int]:
    """The backend pids of the listening connections of this role, but `origin`'s."""
    rows = await conn.execute(_LISTENERS, {"name": LISTENER_NAME})
    return {int(row[0]) for row in rows} - {origin}


async def spare_to_preload(conn: AsyncConnection) -> Tables | None:
    """The spare partitions if a rebuild is about to swap them in (its lock held by a session of
    this database role, each spare attached to its `_next` parent), else None: a notice is
    acted on only then."""
    held = await conn.execute(_REBUILD_LOCK_HELD, {"key": REBUILD_LOCK})
    if not held.scalar_one():
        return None
    spare = await spare_partitions(conn)
    for parent, partition in zip(NEXT.all(), spare.all(), strict=True):
        attached = await conn.execute(_ATTACHED, {"parent": parent, "partition": partition})
        if not attached.scalar_one():
            return None
    return spare


async def acknowledge(conn: AsyncConnection, notice: SpareReady, pid: int) -> None:
    """Tell the rebuild that the listener `pid` has preloaded `notice`'s generation."""
    payload = SpareLoaded(id=notice.id, pid=pid).model_dump_json()
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": ACK_CHANNEL, "payload": payload}
    )

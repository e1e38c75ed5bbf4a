"""Reading from a streaming replica: waiting until it has replayed a position, and its lag.

A replica replays the primary's WAL in commit order, so what it shows is always a prefix of the
log and of the projector's checkpoints; it may only be behind. A read that must reflect a
position polls the replica until it gets there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.log.reader import EventReader
from service.store.projection import checkpoints

_REPLAY = text(
    "SELECT pg_is_in_recovery() AS in_recovery, "
    "pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed, "
    "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) AS since_replay, "
    "(SELECT COALESCE(max(position), 0) FROM events) AS head"
)
_PRIMARY_WAL = text("SELECT pg_current_wal_lsn()::text")


async def _wait_until(read: Callable[[], Awaitable[int]], target: int, seconds: float) -> bool:
    """Poll `read` (backing off to 0.1 s) until it reaches `target`; False if `seconds` pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay = 0.005
    while await read() < target:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)
    return True


async def wait_for_checkpoint(engine: AsyncEngine, name: str, target: int, seconds: float) -> bool:
    """Wait until checkpoint `name` on `engine` reaches `target`; False if `seconds` pass first."""
    return await _wait_until(lambda: checkpoints.position(engine, name), target, seconds)


async def wait_for_head(engine: AsyncEngine, target: int, seconds: float) -> bool:
    """Wait until the log on `engine` holds position `target`; False if `seconds` pass first."""
    return await _wait_until(EventReader(engine).head, target, seconds)


def lsn_bytes(lsn: str) -> int:
    """A WAL location (`16/B374D848`) as a byte offset."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True, slots=True)
class ReplicaLag:
    """How far a streaming replica is behind its primary, as the replica itself reports it."""

    in_recovery: bool
    """False when the read engine is no standby (a promoted replica, or a primary)."""
    head: int
    """The newest log position the replica shows."""
    lag_events: int
    """Log positions on the primary the replica does not show yet."""
    lag_bytes: int | None
    """WAL bytes written on the primary and not yet replayed (None: not a standby)."""
    lag_seconds: float | None
    """Seconds since the last transaction it replayed committed on the primary; 0 when it has
    replayed all the WAL it received (an idle primary writes no transaction to replay, so the
    time since the last one is no lag); None when it is no standby or replayed nothing yet."""


async def replica_lag(primary: AsyncEngine, replica: AsyncEngine) -> ReplicaLag:
    """The replica's lag behind `primary`: in log positions, WAL bytes and seconds."""
    async with replica.connect() as conn:
        row = (await conn.execute(_REPLAY)).one()
    async with primary.connect() as conn:
        primary_wal = str((await conn.execute(_PRIMARY_WAL)).scalar_one())
    primary_head = await EventReader(primary).head()
    head = int(row.head)
    lag_bytes = lag_seconds = None
    if row.in_recovery and row.replayed is not None:
        lag_bytes = max(lsn_bytes(primary_wal) - lsn_bytes(row.replayed), 0)
        if row.received is not None and row.received == row.replayed:
            lag_seconds = 0.0  # all it received is replayed: only bytes in flight remain
        elif row.since_replay is not None:
            lag_seconds = max(float(row.since_replay), 0.0)
    return ReplicaLag(
        in_recovery=bool(row.in_recovery),
        head=head,
        lag_events=max(primary_head - head, 0),
        lag_bytes=lag_bytes,
        lag_seconds=lag_seconds,
    )

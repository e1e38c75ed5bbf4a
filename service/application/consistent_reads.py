"""Consistent reads: wait for the read models to reach a position, then read one snapshot."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.application.errors import PositionBeyondHead, ReadModelsLagging, ReplicaLagging
from service.application.services import Services
from service.store.database.replica import wait_for_checkpoint, wait_for_head
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import READ_MODELS

Consistency = Literal["strong", "eventual"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Read(Generic[T]):
    """An answer and the log position the read models reflected when it was read."""

    answer: T
    position: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One read-only snapshot of the read models and the log position they reflect."""

    conn: AsyncConnection
    position: int
    complete: bool = False
    """Whether it reflects every event acknowledged before the request (strong reads)."""


async def _wait(
    services: Services, engine: AsyncEngine, min_position: int | None, consistency: Consistency
) -> int | None:
    """Wait as asked; return the head position waited for when that was all acknowledged."""
    target = min_position
    if target is None and consistency == "strong":
        target = await services.reader.head()
    elif target is not None and target > await services.reader.head():
        # No event has that position yet: waiting could only end in a 503.
        raise PositionBeyondHead(target)
    head_waited = target if min_position is None else None
    if not target:
        return head_waited
    seconds = services.settings.read_wait_seconds
    started = time.monotonic()
    reached = await services.projector.wait_for(target, seconds)
    if reached and engine is not services.engine:
        # The primary's read models got there; the replica must also have replayed them.
        left = max(seconds - (time.monotonic() - started), 0.0)
        reached = await wait_for_checkpoint(engine, READ_MODELS, target, left)
    if not reached:
        raise ReadModelsLagging(target)
    return head_waited


async def replica_has_head(services: Services) -> None:
    """With a read replica (`DATABASE_READ_URL`), wait until its log holds every event
    acknowledged before the request, as strong reads of the read models wait for their
    checkpoint; raise `ReplicaLagging` after `FUNNEL_READ_WAIT_SECONDS`. Without one: nothing."""
    if services.read_engine is services.engine:
        return
    target = await services.reader.head()
    seconds = services.settings.read_wait_seconds
    if not await wait_for_head(services.read_engine, target, seconds):
        raise ReplicaLagging(target)


@asynccontextmanager
async def snapshot(
    services: Services,
    min_position: int | None = None,
    consistency: Consistency = "strong",
    *,
    replica: bool = False,
) -> AsyncIterator[Snapshot]:
    """A repeatable-read snapshot of the read models, once they reflect what was asked.

    `strong` (the default) waits until every event acknowledged before the request is
    projected; `min_position` waits for that position; `eventual` answers at once. With
    `replica`, the snapshot is taken on the read engine (`DATABASE_READ_URL`, when set).
    """
    engine = services.read_engine if replica else services.engine
    head = await _wait(services, engine, min_position, consistency)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        await conn.begin()
        # Period aggregations hash a quarter's facts; the default 4 MB would spill to disk.
        await conn.execute(text("SET LOCAL work_mem = '64MB'"))
        position = (await checkpoints.load(conn, READ_MODELS)).position
        yield Snapshot(conn, position, complete=head is not None and position >= head)
        await conn.rollback()

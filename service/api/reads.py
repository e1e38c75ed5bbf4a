"""Consistent reads: wait for the read models to reach a position, then read one snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from service.api.container import Services
from service.api.problems import Problem
from service.store import checkpoints
from service.store.read_model_writer import READ_MODELS

Consistency = Literal["strong", "eventual"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One read-only snapshot of the read models and the log position they reflect."""

    conn: AsyncConnection
    position: int


async def _wait(services: Services, min_position: int | None, consistency: Consistency) -> None:
    target = min_position
    if target is None and consistency == "strong":
        target = await services.reader.head()
    if not target:
        return
    if not await services.projector.wait_for(target, services.settings.read_wait_seconds):
        raise Problem(
            503,
            "projection-lagging",
            f"the read models have not reached position {target} yet; try again shortly",
            title="Read models are catching up",
            headers={"Retry-After": "1"},
            wanted_position=target,
        )


@asynccontextmanager
async def snapshot(
    services: Services, min_position: int | None = None, consistency: Consistency = "strong"
) -> AsyncIterator[Snapshot]:
    """A repeatable-read snapshot of the read models, once they reflect what was asked.

    `strong` (the default) waits until every event acknowledged before the request is
    projected; `min_position` waits for that position; `eventual` answers at once.
    """
    await _wait(services, min_position, consistency)
    async with services.engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        await conn.begin()
        position = (await checkpoints.load(conn, READ_MODELS)).position
        yield Snapshot(conn, position)
        await conn.rollback()

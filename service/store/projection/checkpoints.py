"""Projector checkpoints: how far each read model has got, and its last error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A read model's progress through the log."""

    name: str
    position: int
    updated_at: datetime
    last_error: str | None
    last_error_at: datetime | None


async def load(conn: AsyncConnection, name: str, *, lock: bool = False) -> Checkpoint:
    """The checkpoint `name`; with `lock`, held against other projectors until commit."""
    suffix = " FOR UPDATE" if lock else ""
    row = (
        await conn.execute(
            text(
                "SELECT name, position, updated_at, last_error, last_error_at "
                f"FROM projection_checkpoints WHERE name = :name{suffix}"
            ),
            {"name": name},
        )
    ).one()
    return Checkpoint(row.name, row.position, row.updated_at, row.last_error, row.last_error_at)


async def advance(conn: AsyncConnection, name: str, position: int) -> None:
    """Move the checkpoint to `position` (in the transaction that wrote the rows)."""
    await conn.execute(
        text(
            "UPDATE projection_checkpoints SET position = :position, updated_at = now(), "
            "last_error = NULL, last_error_at = NULL WHERE name = :name"
        ),
        {"name": name, "position": position},
    )


async def record_error(engine: AsyncEngine, name: str, error: str) -> None:
    """Remember why the projector last failed (shown by the status endpoint)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE projection_checkpoints SET last_error = :error, last_error_at = now() "
                "WHERE name = :name"
            ),
            {"name": name, "error": error[:2000]},
        )


async def position(engine: AsyncEngine, name: str) -> int:
    """The checkpoint's position."""
    async with engine.connect() as conn:
        return (await load(conn, name)).position

"""The deals that moved in a window: those with a counting flow fact of some kinds in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.projection.read_model_writer import LIVE, Tables


@dataclass(frozen=True, slots=True)
class Movement:
    """A deal's counting fact of `kind` (its first in the window), credited to `rep_id`."""

    deal_id: str
    kind: str
    rep_id: str
    occurred_at: datetime


async def moved_deals(
    conn: AsyncConnection,
    *,
    kinds: Sequence[str],
    start: datetime,
    end: datetime,
    known_at: datetime,
    tables: Tables = LIVE,
) -> list[Movement]:
    """Per deal and kind, the first counting fact of those kinds in [start, end) as known at
    `known_at` (the facts the scoreboard counts for the same period), by instant."""
    result = await conn.execute(
        text(
            "SELECT DISTINCT ON (deal_id, kind) deal_id, kind, rep_id, occurred_at "
            f"FROM {tables.facts} WHERE kind IN :kinds "
            "AND occurred_at >= :start AND occurred_at < :end AND recorded_at <= :k "
            "AND (retracted_at IS NULL OR retracted_at > :k) "
            "ORDER BY deal_id, kind, occurred_at, position"
        ).bindparams(bindparam("kinds", expanding=True)),
        {"kinds": list(kinds), "start": start, "end": end, "k": known_at},
    )
    moves = [Movement(row.deal_id, row.kind, row.rep_id, row.occurred_at) for row in result]
    return sorted(moves, key=lambda move: (move.occurred_at, move.deal_id))


async def deals_in_stage_from(
    conn: AsyncConnection,
    *,
    stage: str,
    start: datetime,
    end: datetime,
    known_at: datetime,
    tables: Tables = LIVE,
) -> list[str]:
    """The deals with a span in `stage` starting in [start, end), as believed at `known_at`:
    those that may have entered the stage then (a span also starts at an owner change)."""
    result = await conn.execute(
        text(
            f"SELECT DISTINCT deal_id FROM {tables.segments} WHERE stage = :stage "
            "AND valid_from >= :start AND valid_from < :end AND valid_to > :start "
            "AND known_from <= :k AND known_to > :k ORDER BY deal_id"
        ),
        {"stage": stage, "start": start, "end": end, "k": known_at},
    )
    return [row.deal_id for row in result]

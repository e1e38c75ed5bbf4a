"""Whether a rep exists for the read models and the log, as known at a transaction time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.vocabulary import REP_SUBJECT_PREFIX
from service.store.projection.read_model_writer import LIVE, Tables


async def rep_is_known(
    conn: AsyncConnection, rep_id: str, known_at: datetime, tables: Tables = LIVE
) -> bool:
    """Whether, by `known_at`, the rep was credited with a fact, owned a deal, was assigned a
    team or had an event of their own (`rep:<rep_id>`: a profile, a target)."""
    result = await conn.execute(
        text(
            f"SELECT EXISTS (SELECT 1 FROM {tables.facts} "
            "  WHERE rep_id = :rep AND recorded_at <= :k) "
            f"OR EXISTS (SELECT 1 FROM {tables.segments} "
            "  WHERE owner_rep_id = :rep AND known_from <= :k) "
            f"OR EXISTS (SELECT 1 FROM {tables.teams} WHERE rep_id = :rep AND recorded_at <= :k) "
            "OR EXISTS (SELECT 1 FROM events WHERE subject = :subject AND recorded_at <= :k)"
        ),
        {"rep": rep_id, "k": known_at, "subject": REP_SUBJECT_PREFIX + rep_id},
    )
    return bool(result.scalar_one())

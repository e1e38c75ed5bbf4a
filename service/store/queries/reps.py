"""Whether the service knows a rep at all: credited, owning a deal, in a team, or with events."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.vocabulary import REP_SUBJECT_PREFIX
from service.store.projection.read_model_writer import LIVE, Tables


async def rep_is_known(conn: AsyncConnection, rep_id: str, tables: Tables = LIVE) -> bool:
    """Whether the rep was ever credited with a fact, owned a deal, was assigned a team or had
    an event of their own (`rep:<rep_id>`: a profile, a target), whenever it was recorded.

    Whatever `known_at` a page asks about: a rep the service knows now is a rep, even where
    nothing about them was known yet then (their numbers are zero).
    """
    result = await conn.execute(
        text(
            f"SELECT EXISTS (SELECT 1 FROM {tables.facts} WHERE rep_id = :rep) "
            f"OR EXISTS (SELECT 1 FROM {tables.segments} WHERE owner_rep_id = :rep) "
            f"OR EXISTS (SELECT 1 FROM {tables.teams} WHERE rep_id = :rep) "
            "OR EXISTS (SELECT 1 FROM events WHERE subject = :subject)"
        ),
        {"rep": rep_id, "subject": REP_SUBJECT_PREFIX + rep_id},
    )
    return bool(result.scalar_one())

"""Reps' profiles as known at a transaction time, read from the log itself.

Profiles are few (one event per rep and change), so they are folded from their events on
each read, by the same pure code as the fold (`service.projections.profiles`), rather than
kept in a read model of their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.vocabulary import PROFILE_SET, RETRACTION
from service.projections.knowledge import visible
from service.projections.profiles import ProfileHistory, profile_history
from service.store.log.event_rows import FOLD_COLUMNS, recorded_all

_PROFILE_EVENTS = text(
    f"SELECT {FOLD_COLUMNS} FROM events "
    "WHERE subject LIKE 'rep:%' AND type IN (:profile, :retraction) AND recorded_at <= :k "
    "ORDER BY position"
)


async def profile_history_known_at(conn: AsyncConnection, known_at: datetime) -> ProfileHistory:
    """rep → its profiles (valid_from, profile) known and unretracted at `known_at`."""
    result = await conn.execute(
        _PROFILE_EVENTS, {"profile": PROFILE_SET, "retraction": RETRACTION, "k": known_at}
    )
    events = recorded_all([tuple(row) for row in result])
    return profile_history(visible(events, as_of=None, known_at=known_at))

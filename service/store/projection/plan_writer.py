"""The plan read model: `target.set`, `team.priorities_set` and `calendar.day_set` events, one
row each."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.recorded import RecordedEvent
from service.events.vocabulary import CALENDAR_DAY_SET, PRIORITIES_SET, TARGET_SET

PLAN_TYPES = (TARGET_SET, PRIORITIES_SET, CALENDAR_DAY_SET)


async def insert_plan_events(
    conn: AsyncConnection, events: Sequence[RecordedEvent], table: str
) -> None:
    """Insert the batch's plan events (a retraction later stamps `retracted_at`)."""
    rows = [event for event in events if event.type in PLAN_TYPES]
    if not rows:
        return
    await conn.execute(
        text(
            f"INSERT INTO {table} (position, subject, type, valid_from, recorded_at, data) "
            "SELECT p, s, t, v, r, d::jsonb FROM unnest(CAST(:p AS bigint[]), "
            "CAST(:s AS text[]), CAST(:t AS text[]), CAST(:v AS timestamptz[]), "
            "CAST(:r AS timestamptz[]), CAST(:d AS text[])) AS u(p, s, t, v, r, d) "
            "ON CONFLICT (position) DO NOTHING"
        ),
        {
            "p": [e.position for e in rows],
            "s": [e.subject for e in rows],
            "t": [e.type for e in rows],
            "v": [e.occurred_at for e in rows],
            "r": [e.recorded_at for e in rows],
            "d": [orjson.dumps(dict(e.data)).decode() for e in rows],
        },
    )

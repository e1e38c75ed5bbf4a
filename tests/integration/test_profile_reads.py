"""Reading reps' profiles touches their streams only, through the index made for it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.queries import profiles

pytestmark = pytest.mark.integration


async def test_the_profile_read_is_answered_by_the_rep_streams_index(engine: AsyncEngine):
    # Given the statement a scoreboard by rep runs for names, on a log of any size
    explain = text(f"EXPLAIN {profiles._PROFILE_EVENTS.text}")
    params = {"profile": "rep.profile_set", "retraction": "event.retracted", "k": datetime.now(UTC)}
    async with engine.connect() as conn:
        # When the planner may not scan the whole log
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in await conn.execute(explain, params))
        # Then it reads the reps' streams through their index
        assert "events_rep_streams" in plan, plan
        assert (await profiles.profile_history_known_at(conn, datetime.now(UTC))) == {}

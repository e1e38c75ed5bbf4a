"""The replay's fold pass leaves the transaction as it found it, and reads whole streams."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import parse_event
from service.store.database.snapshots import repeatable_read
from service.store.log import period_events
from service.store.log.appender import EventAppender
from tests.factories import ce, signed, sourced, visit

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


async def _settings(conn: Any) -> tuple[str, str]:
    statement = text("SELECT current_setting('enable_indexscan'), current_setting('work_mem')")
    row = (await conn.execute(statement)).one()
    return str(row[0]), str(row[1])


async def test_the_unsettled_streams_are_read_whole_and_the_planner_settings_restored(
    engine: AsyncEngine,
) -> None:
    # Given a deal signed before the quarter, one lost in it, and one only visited in it
    events = [
        sourced("D-1", "R-1", "2025-10-01T10:00:00Z"),
        signed("D-1", "R-1", "2025-11-01T10:00:00Z"),
        sourced("D-2", "R-1", "2025-10-02T10:00:00Z"),
        ce("deal.lost", "D-2", "2026-02-01T10:00:00Z", {"rep_id": "R-1", "reason": "price"}),
        visit("D-3", "R-2", "2026-02-02T10:00:00Z"),
        visit("D-3", "R-2", "2026-02-03T10:00:00Z", kind="FUA"),
    ]
    await EventAppender(engine).append([parse_event(e) for e in events], {"actor": "t"})
    async with repeatable_read(engine) as conn:
        before = await _settings(conn)
        known_at = datetime.now(UTC)
        # When the streams not settled before the quarter are read, one subject at a time
        with patch.object(period_events, "STREAMS_PER_READ", 1):
            read = [
                [(row["subject"], row["stream_version"]) for row in rows]
                async for rows in period_events.period_streams(
                    conn, end=END, known_at=known_at, settled_before=START
                )
            ]
        # Then D-1 is left out, each other stream comes whole, in order, one per read
        assert read == [[("D-2", 1), ("D-2", 2)], [("D-3", 1), ("D-3", 2)]]
        # And the transaction's planner settings are what they were
        assert await _settings(conn) == before

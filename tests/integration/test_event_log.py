"""The event log on a real PostgreSQL: append-only, gap-free, never skipped by a tailing reader."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import CloudEvent, parse_event
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from tests.factories import visit

pytestmark = pytest.mark.integration


def event(deal: str, n: int) -> CloudEvent:
    return parse_event(visit(deal, "R-1", f"2026-01-01T00:00:{n % 60:02d}Z", id=f"{deal}-{n}"))


async def test_concurrent_appenders_and_a_tailing_reader_see_every_event_once_in_order(
    engine: AsyncEngine,
) -> None:
    # Given 8 appenders writing 40 events each, one or a few per transaction
    appender, reader = EventAppender(engine), EventReader(engine)
    writers, per_writer = 8, 40
    done = asyncio.Event()

    appended = 0

    async def write(w: int) -> None:
        nonlocal appended
        n = 0
        while n < per_writer:
            size = min(1 + (n % 3), per_writer - n)
            await appender.append([event(f"D-{w}", n + i) for i in range(size)])
            n += size
            appended += size

    seen: list[int] = []

    async def tail() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            for row in await reader.feed(cursor, 7):
                seen.append(row.position)
                cursor = row.position
            if finished and cursor == await reader.head():
                return
            await asyncio.sleep(0)

    # When they run concurrently with a reader tailing the feed
    tailer = asyncio.create_task(tail())
    await asyncio.gather(*(write(w) for w in range(writers)))
    done.set()
    await asyncio.wait_for(tailer, 30)

    # Then the reader saw every position exactly once, in order, with no gap
    assert appended == writers * per_writer
    assert seen == list(range(1, appended + 1))


async def test_recorded_at_never_decreases_along_the_position(engine: AsyncEngine) -> None:
    appender = EventAppender(engine)
    await asyncio.gather(*(appender.append([event(f"D-{i}", i)]) for i in range(30)))
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT recorded_at FROM events ORDER BY position"))).all()
    stamps = [row.recorded_at for row in rows]
    assert stamps == sorted(stamps) and len(stamps) == 30


@pytest.mark.parametrize(
    "statement",
    ["UPDATE events SET type = 'x'", "DELETE FROM events", "TRUNCATE events"],
)
async def test_the_database_refuses_to_change_stored_events(
    engine: AsyncEngine, statement: str
) -> None:
    await EventAppender(engine).append([event("D-1", 1)])
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one() == 1

"""Rebuilding the read models from position 0 into fresh tables, then swapping them in.

The service keeps answering from the live tables meanwhile. The swap happens in one transaction
that holds the projector's checkpoint: it catches the new tables up with whatever arrived during
the rebuild, renames them into place and moves the checkpoint, so readers see either the old
generation or the new one, never a mix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.recorded import RecordedEvent
from service.projections.bitemporal import deal_history
from service.store import checkpoints
from service.store.read_model_writer import (
    LIVE,
    READ_MODELS,
    Tables,
    apply_batch,
    insert_flow_rows,
    replace_segments,
)
from service.store.reader import to_recorded

NEXT = Tables(*(f"{name}_next" for name in LIVE.all()))
OLD = Tables(*(f"{name}_old" for name in LIVE.all()))
_COLUMNS = (
    "position, subject, stream_version, source, event_id, type, occurred_at, recorded_at, data, "
    "metadata, schema_version"
)
_log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (events done, events in all) as the rebuild advances."""


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild did."""

    events: int
    deals: int
    position: int


async def rebuild(
    engine: AsyncEngine, *, chunk: int = 5000, progress: Progress | None = None
) -> RebuildReport:
    """Rebuild every read model from the log and swap the result in atomically."""
    async with engine.begin() as conn:
        await _create_next(conn)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            head = int(
                (
                    await conn.execute(text("SELECT COALESCE(max(position), 0) FROM events"))
                ).scalar_one()
            )
            total = 2 * head
            done = await _rebuild_rows(engine, conn, head, chunk, progress, total)
            deals = await _rebuild_segments(engine, conn, head, chunk, progress, total, done)
    position = await _swap(engine, head)
    if progress is not None:
        progress(total, total)
    return RebuildReport(events=head, deals=deals, position=position)


async def _create_next(conn: AsyncConnection) -> None:
    for live, fresh in zip(LIVE.all(), NEXT.all(), strict=True):
        await conn.execute(text(f"DROP TABLE IF EXISTS {fresh}"))
        await conn.execute(text(f"CREATE TABLE {fresh} (LIKE {live} INCLUDING ALL)"))


async def _rebuild_rows(
    engine: AsyncEngine,
    reader: AsyncConnection,
    head: int,
    chunk: int,
    progress: Progress | None,
    total: int,
) -> int:
    """Flow facts and team assignments: every event in position order."""
    done = 0
    result = await reader.stream(
        text(f"SELECT {_COLUMNS} FROM events WHERE position <= :head ORDER BY position"),
        {"head": head},
    )
    async for rows in result.partitions(chunk):
        events = [to_recorded(row) for row in rows]
        async with engine.begin() as conn:
            await insert_flow_rows(conn, events, NEXT)
        done += len(events)
        if progress is not None:
            progress(done, total)
    return done


def _subject(event: RecordedEvent) -> str:
    return event.subject


async def _rebuild_segments(
    engine: AsyncEngine,
    reader: AsyncConnection,
    head: int,
    chunk: int,
    progress: Progress | None,
    total: int,
    done: int,
) -> int:
    """Deal segments: each deal's whole stream at once, deal after deal."""
    deals = 0
    pending: list[RecordedEvent] = []
    result = await reader.stream(
        text(
            f"SELECT {_COLUMNS} FROM events WHERE position <= :head "
            "AND subject NOT LIKE 'rep:%' ORDER BY subject, stream_version"
        ),
        {"head": head},
    )
    async for rows in result.partitions(chunk):
        pending.extend(to_recorded(row) for row in rows)
        # The last subject of the chunk may continue in the next one.
        last = pending[-1].subject
        ready = [e for e in pending if e.subject != last]
        pending = [e for e in pending if e.subject == last]
        deals += await _write_histories(engine, ready)
        done += len(ready)
        if progress is not None:
            progress(min(done, total), total)
    deals += await _write_histories(engine, pending)
    return deals


async def _write_histories(engine: AsyncEngine, events: list[RecordedEvent]) -> int:
    if not events:
        return 0
    histories = {deal: deal_history(list(s)) for deal, s in groupby(events, key=_subject)}
    async with engine.begin() as conn:
        await replace_segments(conn, histories, NEXT, delete_first=False)
    return len(histories)


async def _swap(engine: AsyncEngine, head: int) -> int:
    """Catch the new tables up past `head`, then put them in place of the live ones."""
    async with engine.begin() as conn:
        await checkpoints.load(conn, READ_MODELS, lock=True)
        after = head
        while True:
            rows = await conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM events WHERE position > :after "
                    "ORDER BY position LIMIT 5000"
                ),
                {"after": after},
            )
            events = [to_recorded(row) for row in rows]
            if not events:
                break
            await apply_batch(conn, events, NEXT)
            after = events[-1].position
        for live, fresh, old in zip(LIVE.all(), NEXT.all(), OLD.all(), strict=True):
            await conn.execute(text(f"DROP TABLE IF EXISTS {old}"))
            await conn.execute(text(f"ALTER TABLE {live} RENAME TO {old}"))
            await conn.execute(text(f"ALTER TABLE {fresh} RENAME TO {live}"))
        for old in OLD.all():
            await conn.execute(text(f"DROP TABLE {old}"))
        await checkpoints.advance(conn, READ_MODELS, after)
        _log.info("read models rebuilt up to position %s and swapped in", after)
        return after

"""The rebuild's deal segments: every deal's whole stream folded once, streamed in by COPY.

One pass over the deal events ordered by (subject, stream_version) on a server-side cursor; each
deal's `deal_history` (the same pure fold the projector uses) becomes rows of a single
`COPY` into the fresh segments table, on a second connection, while the next chunk is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.recorded import RecordedEvent
from service.projections.bitemporal import deal_history
from service.store.event_rows import FOLD_COLUMNS, driver, recorded_all, streams_of
from service.store.gc_tuning import fewer_collections
from service.store.segment_rows import SEGMENT_COLUMNS, SegmentRecord, segment_records

_DEAL_EVENTS = (
    f"SELECT {FOLD_COLUMNS} FROM events WHERE position <= $1 "
    "AND subject NOT LIKE 'rep:%' AND subject NOT LIKE 'team:%' "
    "ORDER BY subject, stream_version"
)
SORT_WORK_MEM = "512MB"
"""Memory for the ordering of the deal events: enough to sort a million in memory."""

Advance = Callable[[int], None]
"""Called with the number of events folded since the last call."""


def fold_deals(events: Sequence[RecordedEvent]) -> tuple[list[SegmentRecord], int]:
    """The segment rows of consecutive whole deal streams (ordered by subject), and the deals."""
    records: list[SegmentRecord] = []
    deals = 0
    for subject, stream in streams_of(events):
        records.extend(segment_records(subject, deal_history(stream)))
        deals += 1
    return records, deals


def fold_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[SegmentRecord], int]:
    """`fold_deals` over records of `FOLD_COLUMNS` (whole deal streams, ordered by subject)."""
    return fold_deals(recorded_all(rows))


async def rebuild_segments(
    engine: AsyncEngine, head: int, table: str, *, chunk: int, advance: Advance
) -> int:
    """Fold every deal stream up to `head` into `table` (empty, preferably unindexed).

    Three stages run side by side: reading chunks of whole deal streams, folding each chunk in a
    worker thread (so the event loop keeps reading, copying and serving meanwhile), and one
    COPY of the resulting rows. Returns the number of deals.
    """
    streams: asyncio.Queue[Sequence[Any] | None] = asyncio.Queue(maxsize=2)
    folded: asyncio.Queue[list[SegmentRecord] | None] = asyncio.Queue(maxsize=2)
    deals = 0

    async def fold() -> None:
        nonlocal deals
        while (rows := await streams.get()) is not None:
            records, count = await asyncio.to_thread(fold_rows, rows)
            deals += count
            advance(len(rows))
            await folded.put(records)
        await folded.put(None)

    async def records() -> AsyncIterator[SegmentRecord]:
        while (batch := await folded.get()) is not None:
            for record in batch:
                yield record

    async with engine.begin() as read, engine.begin() as write:
        reader = await driver(read)
        writer = await driver(write)
        await reader.execute(f"SET LOCAL work_mem = '{SORT_WORK_MEM}'")
        cursor = await (await reader.prepare(_DEAL_EVENTS)).cursor(head)
        with fewer_collections():
            async with asyncio.TaskGroup() as stages:
                stages.create_task(_read_streams(cursor, chunk, streams))
                stages.create_task(fold())
                stages.create_task(
                    writer.copy_records_to_table(table, records=records(), columns=SEGMENT_COLUMNS)
                )
    return deals


async def _read_streams(cursor: Any, chunk: int, out: asyncio.Queue[Sequence[Any] | None]) -> None:
    """Put the cursor's rows on `out` in chunks that end where a deal's stream ends, then None."""
    carried: list[Any] = []
    while rows := await cursor.fetch(chunk):
        rows = carried + rows
        # The last subject of the chunk may continue in the next one.
        last = rows[-1][1]
        cut = len(rows) - 1
        while cut > 0 and rows[cut - 1][1] == last:
            cut -= 1
        carried = rows[cut:]
        if cut:
            await out.put(rows[:cut])
    if carried:
        await out.put(carried)
    await out.put(None)

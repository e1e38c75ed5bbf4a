"""The rebuild's deal segments: every deal's whole stream folded once, streamed in by COPY.

One pass over the deal events ordered by (subject, stream_version) on a server-side cursor; each
deal's `deal_history` (the same pure fold the projector uses) becomes rows of a single
`COPY` into the fresh segments table, on a second connection, while the next chunk is read.
The fold is pure Python: on a large log the deals are shared among worker processes
(`service.store.projection.segment_worker`), one per core, each doing the same for its share.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.recorded import RecordedEvent
from service.projections.bitemporal import deal_history
from service.store.log.event_rows import FOLD_COLUMNS, driver, recorded_all, streams_of
from service.store.projection.gc_tuning import fewer_collections
from service.store.projection.segment_rows import SEGMENT_COLUMNS, SegmentRecord, segment_records

_DEAL_EVENTS = (
    f"SELECT {FOLD_COLUMNS} FROM events WHERE position <= $1 "
    "AND subject NOT LIKE 'rep:%' AND subject NOT LIKE 'team:%' AND subject NOT LIKE 'account:%' "
    "AND subject NOT LIKE 'calendar:%' "
    "ORDER BY subject, stream_version"
)
_PART_EVENTS = _DEAL_EVENTS.replace(
    "ORDER BY", "AND (hashtext(subject) & 2147483647) % $2 = $3 ORDER BY"
)
SORT_WORK_MEM = "512MB"
"""Memory for the ordering of the deal events: enough to sort a million in memory."""

Advance = Callable[[int], None]
"""Called with the number of events folded since the last call."""
WORKER_URL = "FUNNEL_SEGMENT_WORKER_URL"
"""The environment variable that hands a worker process its database URL."""


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


class SegmentWorkerError(RuntimeError):
    """A fold process of the rebuild did not finish its share (its error is on its stderr)."""


async def rebuild_segments(
    engine: AsyncEngine,
    head: int,
    table: str,
    *,
    chunk: int,
    advance: Advance,
    workers: int = 1,
) -> int:
    """Fold every deal stream up to `head` into `table` (empty, preferably unindexed).

    With one worker, in this process: three stages run side by side, reading chunks of whole
    deal streams, folding each chunk in a worker thread (so the event loop keeps reading,
    copying and serving meanwhile), and one COPY of the resulting rows. With more, the deals
    are shared out by a hash of their id among as many processes (`segment_worker`), each
    doing the same for its share on connections of its own. Returns the number of deals.
    """
    if workers > 1:
        return await _in_processes(engine, head, table, chunk=chunk, advance=advance, parts=workers)
    async with engine.begin() as read, engine.begin() as write:
        return await fold_into(
            await driver(read), await driver(write), head, table, chunk=chunk, advance=advance
        )


async def fold_into(
    reader: Any,
    writer: Any,
    head: int,
    table: str,
    *,
    chunk: int,
    advance: Advance,
    part: tuple[int, int] = (0, 1),
) -> int:
    """Read, fold and copy (see `rebuild_segments`) on two asyncpg connections, each in a
    transaction; `part` (k, n) keeps the deals whose id hashes to k of n."""
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

    await reader.execute(f"SET LOCAL work_mem = '{SORT_WORK_MEM}'")
    query, args = (_DEAL_EVENTS, (head,)) if part[1] == 1 else (_PART_EVENTS, (head, *part[::-1]))
    cursor = await (await reader.prepare(query)).cursor(*args)
    with fewer_collections():
        async with asyncio.TaskGroup() as stages:
            stages.create_task(_read_streams(cursor, chunk, streams))
            stages.create_task(fold())
            stages.create_task(
                writer.copy_records_to_table(table, records=records(), columns=SEGMENT_COLUMNS)
            )
    return deals


async def _in_processes(
    engine: AsyncEngine, head: int, table: str, *, chunk: int, advance: Advance, parts: int
) -> int:
    """`rebuild_segments` shared among `parts` worker processes; any failure stops them all."""
    environment = {**os.environ, WORKER_URL: worker_url(engine)}
    processes: list[asyncio.subprocess.Process] = []
    try:
        for part in range(parts):  # one at a time, so that a failed start leaves none behind
            started = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "service.store.projection.segment_worker",
                *(str(value) for value in (head, table, chunk, part, parts)),
                env=environment,
                stdout=asyncio.subprocess.PIPE,
            )
            processes.append(started)
        async with asyncio.TaskGroup() as group:
            counts = [group.create_task(_follow(process, advance)) for process in processes]
        return sum(count.result() for count in counts)
    except* SegmentWorkerError as failed:
        raise failed.exceptions[0] from None
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def _follow(process: asyncio.subprocess.Process, advance: Advance) -> int:
    """Pass a worker's progress on; its deals, once it has succeeded."""
    assert process.stdout is not None
    deals = None
    async for line in process.stdout:
        word, _, count = line.decode().partition(" ")
        if word == "advance":
            advance(int(count))
        elif word == "deals":
            deals = int(count)
    if await process.wait() != 0 or deals is None:
        raise SegmentWorkerError(f"a segment worker failed (exit status {process.returncode})")
    return deals


def worker_url(engine: AsyncEngine) -> str:
    """The database URL as asyncpg takes it (password included: it goes by environment)."""
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


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

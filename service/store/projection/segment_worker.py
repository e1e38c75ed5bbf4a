"""A worker process of the rebuild: one share of the deals folded into the fresh segments table.

`python -m service.store.projection.segment_worker HEAD TABLE CHUNK PART PARTS`, with the database
URL in the environment (`FUNNEL_SEGMENT_WORKER_URL`). Prints `advance N` as it folds and `deals N`
once its COPY is committed; any failure exits non-zero, and the rebuild fails with it.
"""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from service.store.projection.segment_rebuild import WORKER_URL, fold_into


def _say(word: str, count: int) -> None:
    sys.stdout.write(f"{word} {count}\n")
    sys.stdout.flush()


async def work(url: str, head: int, table: str, chunk: int, part: int, parts: int) -> int:
    """Fold the deals of share `part` of `parts` up to `head` into `table`; the deals."""
    reader = await asyncpg.connect(url)
    writer = await asyncpg.connect(url)
    try:
        async with reader.transaction(), writer.transaction():
            return await fold_into(
                reader,
                writer,
                head,
                table,
                chunk=chunk,
                advance=lambda count: _say("advance", count),
                part=(part, parts),
            )
    finally:
        await reader.close()
        await writer.close()


def main() -> None:
    """Run one worker from the command line."""
    head, table, chunk, part, parts = sys.argv[1:6]
    deals = asyncio.run(
        work(os.environ[WORKER_URL], int(head), table, int(chunk), int(part), int(parts))
    )
    _say("deals", deals)


if __name__ == "__main__":
    main()

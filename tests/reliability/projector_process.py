"""A projector alone in a process, for a test to SIGKILL: `python -m <this module> URL BATCH`."""

from __future__ import annotations

import asyncio
import sys

from service.store.database.engines import create_engine
from service.store.projection.projector import catch_up


async def _main(url: str, batch_size: int) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        await catch_up(engine, batch_size)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2])))

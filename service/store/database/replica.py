"""Reading from a streaming replica: waiting until it has replayed the read models to a position.

A replica replays the primary's WAL in commit order, so what it shows is always a prefix of the
log and of the projector's checkpoints; it may only be behind. A read that must reflect a
position polls the replica's own checkpoint until it gets there.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.projection import checkpoints


async def wait_for_checkpoint(engine: AsyncEngine, name: str, target: int, seconds: float) -> bool:
    """Wait until checkpoint `name` on `engine` reaches `target`; False if `seconds` pass first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay = 0.005
    while await checkpoints.position(engine, name) < target:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)
    return True

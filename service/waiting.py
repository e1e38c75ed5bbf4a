"""Bounded waits that never swallow a cancellation.

Python 3.11's `asyncio.wait_for` can lose a cancellation that arrives just as its own timeout
fires: the waiting task then carries on as if nobody had asked it to stop, and whoever awaits it
(a shutdown, say) waits for ever. `asyncio.timeout` has no such window, so every bounded wait
in the service goes through `within`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def within(seconds: float, awaitable: Awaitable[object]) -> bool:
    """Await `awaitable` for at most `seconds`: True if it finished, False if time ran out."""
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        return False
    return True

"""Wake-ups for live readers of the log when this process appends (others are polled for)."""

from __future__ import annotations

import asyncio

from service.waiting import within


class LogSignal:
    """A broadcast: every waiter wakes on the next append, or when its timeout passes."""

    def __init__(self) -> None:
        self._appended = asyncio.Event()

    def notify(self, _position: int | None = None) -> None:
        """Wake every current waiter (called after a local append)."""
        self._appended.set()
        self._appended = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Return on the next append or after `seconds`, whichever comes first."""
        await within(seconds, self._appended.wait())

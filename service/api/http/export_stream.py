"""Streamed downloads that cannot hurt the service: few at once, and none held by a slow reader.

An export reads the database a page at a time and holds no connection while its client reads
(see `tabular` and `audit.export`). Two limits remain for the stream itself:

- at most `FUNNEL_MAX_CONCURRENT_EXPORTS` run in a process at once (`application.exports`);
  beyond, `503` with `Retry-After` before any database work;
- every write must be accepted by the client within `FUNNEL_EXPORT_STALL_SECONDS`: a client
  that stops reading has its export abandoned, its slot freed and its connection closed.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Message, Send

from service.application.exports import ExportSlot

_log = logging.getLogger(__name__)


class ExportResponse(StreamingResponse):
    """A streamed download that gives up on a client not reading for `stall_seconds`."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        slot: ExportSlot,
        stall_seconds: float,
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._content = content
        self._slot = slot
        self._stall_seconds = stall_seconds
        # Should the response never be sent (the request cancelled first), the slot still
        # comes back when the response is dropped.
        weakref.finalize(self, slot.release)

    async def stream_response(self, send: Send) -> None:
        """Send the head and every chunk, each within the stall deadline; then release."""
        try:
            start = {"type": "http.response.start", "status": self.status_code}
            if not await self._sent(send, {**start, "headers": self.raw_headers}):
                return
            async for chunk in self._content:
                message = {"type": "http.response.body", "body": chunk, "more_body": True}
                if not await self._sent(send, message):
                    return
            await self._sent(send, {"type": "http.response.body", "body": b""})
        finally:
            self._slot.release()
            # An abandoned generator is closed now, not whenever it is collected.
            close = getattr(self._content, "aclose", None)
            if close is not None:
                await close()

    async def _sent(self, send: Send, message: Message) -> bool:
        try:
            async with asyncio.timeout(self._stall_seconds):
                await send(message)
        except TimeoutError:
            # Returning with the answer unfinished makes the server close the connection.
            _log.warning(
                "export abandoned: the client accepted nothing for %g s", self._stall_seconds
            )
            return False
        return True

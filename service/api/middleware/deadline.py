"""A deadline for every HTTP request to start its answer: past it, a 504 problem, not a hang.

Reading the body happens inside the deadline too, so a client that trickles its body in
cannot hold a worker longer than the deadline. Once the answer has started, a stream (the SSE
feed, an export) is no longer bound by it.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.http.problems import PROBLEM_JSON, problem_body

_log = logging.getLogger(__name__)


class RequestTimeout:
    """ASGI middleware answering 504 problem+json when a request outlives `seconds`."""

    def __init__(self, app: ASGIApp, seconds: float, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.seconds = seconds
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request under the deadline."""
        # Streams and exports (`exempt` path prefixes) may rightly outlive any deadline.
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        started = False
        deadline = asyncio.timeout(self.seconds)

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                # Answered in time: a stream (SSE, export) may go on as long as it needs.
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            _log.warning("request timed out: %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _send_timeout(send, str(scope.get("path", "")), self.seconds)


async def _send_timeout(send: Send, path: str, seconds: float) -> None:
    body = orjson.dumps(
        problem_body(
            504,
            "request-timeout",
            "Gateway Timeout",
            f"the request took longer than {seconds:g} s and was abandoned; "
            "it is safe to retry (appends are idempotent)",
            path,
        )
    )
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]
    await send({"type": "http.response.start", "status": 504, "headers": headers})
    await send({"type": "http.response.body", "body": body})

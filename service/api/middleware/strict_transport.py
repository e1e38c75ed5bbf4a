"""HTTP Strict Transport Security on every answer when the public URL is https."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS_HEADER = b"strict-transport-security"
HSTS_VALUE = b"max-age=31536000"
"""One year; no `includeSubDomains`: the other hosts of the domain are not ours to bind."""


class StrictTransportSecurity:
    """ASGI middleware adding `Strict-Transport-Security` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; stamp the header on its answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((HSTS_HEADER, HSTS_VALUE))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)

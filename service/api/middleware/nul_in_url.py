"""Refuse NUL characters in the URL: PostgreSQL cannot store or compare them in text."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.http.problems import PROBLEM_JSON, problem_body

_NUL_FORMS = (b"%00", b"\x00")


class RejectNulInUrl:
    """ASGI middleware answering 422 problem+json for a path or query holding U+0000."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on unless its URL carries a NUL."""
        if scope["type"] == "http":
            raw = bytes(scope.get("raw_path") or b"") + b"?" + bytes(scope.get("query_string", b""))
            if any(form in raw for form in _NUL_FORMS):
                await _refuse(send, str(scope.get("path", "")).replace("\x00", ""))
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, path: str) -> None:
    body = orjson.dumps(
        problem_body(
            422,
            "invalid-request",
            "Invalid request",
            "the URL may not contain the NUL character (%00)",
            path,
            errors=[{"pointer": "/query", "detail": "NUL character"}],
        )
    )
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

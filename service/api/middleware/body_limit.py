"""A size limit on every request body, applied before any handler reads or parses it.

The declared `Content-Length` is checked before the application is called; a body sent without
one (chunked) is counted while it streams in and refused at the first byte past the limit, so
no handler, form parser or JSON decoder ever holds more than the limit in memory.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.http.limited_body import declared_length, too_large
from service.api.http.problems import PROBLEM_JSON, problem_body, problem_response


class BodyTooLarge(HTTPException):
    """The body went past the limit while streaming in.

    An `HTTPException`, so that whatever reads the body (FastAPI's own parser included) lets it
    through untouched, up to its exception handler.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {limit} bytes")
        self.limit = limit


class BodyLimit:
    """ASGI middleware refusing with 413 problem+json a body over its path's limit.

    `limits` maps a path prefix to a smaller limit than `default` (the first matching prefix
    wins). A `Content-Length` over the limit is answered here, the application never called; a
    body that streams past it raises `BodyTooLarge` in whatever reads it. A `Content-Length`
    that is not ASCII digits is refused with 400.
    """

    def __init__(self, app: ASGIApp, default: int, limits: Iterable[tuple[str, int]] = ()) -> None:
        self.app = app
        self.default = default
        self.limits = tuple((prefix, min(limit, default)) for prefix, limit in limits)

    def limit_for(self, path: str) -> int:
        """The body limit of a request for `path`."""
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a body declared too large at once; count one that streams in."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.limit_for(path)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = declared_length(value)
                if declared is None:
                    await _send(send, _bad_length(path))
                    return
                if declared > limit:
                    await _send(send, _too_large(path, limit))
                    return
                break
        received = 0

        async def counting_receive() -> Message:
            # Raised from inside the handler that reads the body, so the app's own exception
            # handler answers it (`install_body_limit`), whoever reads: FastAPI's parser too.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


async def _on_body_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return problem_response(too_large(exc.limit), request.url.path)


def install_body_limit(app: FastAPI, default: int, limits: Iterable[tuple[str, int]]) -> None:
    """Limit every body of `app` (add this after the middleware that should see its 413s)."""
    app.add_exception_handler(BodyTooLarge, _on_body_too_large)
    app.add_middleware(BodyLimit, default=default, limits=tuple(limits))


def _too_large(path: str, limit: int) -> dict[str, object]:
    problem = too_large(limit)
    return problem_body(413, problem.slug, problem.title, problem.detail, path, **problem.extra)


def _bad_length(path: str) -> dict[str, object]:
    detail = "the Content-Length header must be a number of bytes, in ASCII digits"
    errors = [{"pointer": "/headers/content-length", "detail": "not a number of bytes"}]
    return problem_body(400, "invalid-content-length", "Bad Request", detail, path, errors=errors)


async def _send(send: Send, problem: dict[str, object]) -> None:
    body = orjson.dumps(problem)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": problem["status"], "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""Per-request observation: the request id in and out, the access log and the metrics."""

from __future__ import annotations

import logging
import random
import re
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.application.metrics import Metrics
from service.logs import request_id

HEADER = "x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # matched whole, never before a newline
_MAX_PROBLEM_BYTES = 64 * 1024
_log = logging.getLogger("funnel_ledger.access")
HEALTH_PATH = "/healthz"


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.decode("latin-1").lower() == HEADER:
            text = bytes(value).decode("latin-1")
            if _VALID_ID.fullmatch(text):
                return text
    # A request id need not be secret, only unique: 128 bits from the per-process generator
    # (reseeded in each forked worker) instead of a system call per request.
    return f"{random.getrandbits(128):032x}"


def _is_ingestion(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return scope.get("method") == "POST" and (path == "/v1/events" or path.startswith("/webhooks/"))


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _problem_reason(body: bytes, status: int) -> str:
    try:
        kind = orjson.loads(body).get("type", "")
    except (orjson.JSONDecodeError, AttributeError):
        return str(status)
    slug = str(kind).rsplit("/", 1)[-1]
    return slug if slug and slug != "about:blank" else str(status)


class RequestObserver:
    """ASGI middleware: request id (X-Request-ID in and out), latency, rejections, access log."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its id in context, then record how it went."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        problem = bytearray()
        watch_body = _is_ingestion(scope)

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            elif watch_body and status >= 400 and len(problem) < _MAX_PROBLEM_BYTES:
                problem.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            self._record(scope, status, time.perf_counter() - started, bytes(problem))
            request_id.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float, problem: bytes) -> None:
        route, method = _route(scope), str(scope.get("method", ""))
        self.metrics.latency.labels(method=method, route=route, status=str(status)).observe(seconds)
        if _is_ingestion(scope) and status >= 400:
            self.metrics.rejected.labels(reason=_problem_reason(problem, status)).inc()
        # Liveness probes (a load balancer's, Docker's HEALTHCHECK) come every few seconds:
        # logged at DEBUG, so that they neither drown the log nor follow a first start's key.
        path = scope.get("path", "")
        _log.log(
            logging.DEBUG if path == HEALTH_PATH else logging.INFO,
            "%s %s %d",
            method,
            scope.get("path", ""),
            status,
            extra={
                "method": method,
                "path": scope.get("path", ""),
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )

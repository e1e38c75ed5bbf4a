"""Several workers, one copy: reads go to the worker that holds the in-memory read models.

`serve --workers N` gives its workers a private directory (`FUNNEL_READ_HOLDER_DIR`); one worker
holds the copy (`service.application.read_holder`) and also serves this same application on a
Unix socket there. Every other worker forwards its `GET` and `HEAD` requests to that socket
(`ReadForwarding`, outermost middleware: the holder authenticates, limits, logs and answers
them, streams included), and keeps appending events itself. If the holder cannot be reached
the worker answers the read itself, from SQL, and takes the copy over as soon as the holder's
lock is free (`claim_reads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from service.application.read_holder import CLAIM_SECONDS
from service.application.services import Services
from service.waiting import within

LOCAL_PATHS = frozenset({"/healthz", "/metrics"})
"""Answered by the worker asked: its own liveness and its own counters."""
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
"""Headers of one connection, not of the request (RFC 9110 §7.6.1)."""
FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"forwarded"})
"""Replaced by what this worker resolved: a client's own are never passed on."""
NO_BODY = frozenset({b"content-length", b"expect"})
"""A read's body, if a client sent one, means nothing to the API and is not passed on: nor
are the headers announcing it, which would leave the holder waiting for bytes never sent."""
OWN_RESPONSE_HEADERS = frozenset({b"date", b"server"})
"""Set by this worker's server on every answer: the holder's would be doubled."""
HOLDER_KEEP_ALIVE_SECONDS = 75
"""The holder keeps a forwarder's idle connection longer than the forwarder's pool does."""
WARN_EVERY_SECONDS = 10.0
"""A worker answering reads itself because the holder does not answer says so this often."""
STOP_SECONDS = 10.0
"""How long the holder's socket may take to finish its open requests when the worker stops."""
_log = logging.getLogger(__name__)


class ReadForwarding:
    """Outermost middleware of a worker that may not hold the copy: reads go to the holder."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._client: httpx.AsyncClient | None = None
        self._socket: Path | None = None
        self._warned_at = -WARN_EVERY_SECONDS

    def forward_to(self, services: Services | None) -> Path | None:
        """The holder's socket when reads are to be forwarded from here, else None."""
        holder = services.read_holder if services is not None else None
        if holder is None or holder.here:
            return None
        return holder.socket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward a read to the holder, or pass the request on."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        services = getattr(scope["app"].state, "services", None) if "app" in scope else None
        target = self.forward_to(services) if scope["path"] not in LOCAL_PATHS else None
        if target is None or not await self._forwarded(target, scope, receive, send):
            await self.app(scope, receive, send)

    async def _forwarded(self, target: Path, scope: Scope, receive: Receive, send: Send) -> bool:
        """Whether the holder answered (the answer sent on); False if it could not be reached
        before answering, twice (a pooled connection it had just closed, then a fresh one)."""
        client = self._client_for(target)
        request = client.build_request(
            scope["method"], _url(scope), headers=_request_headers(scope), timeout=_TIMEOUT
        )
        for _attempt in range(2):
            try:
                response = await client.send(request, stream=True)
                break
            except httpx.TransportError:
                continue
        else:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                _log.warning("the worker holding the read models does not answer; answering here")
            return False
        try:
            await _relayed(response, receive, send)
        finally:
            await response.aclose()
        return True

    def _client_for(self, target: Path) -> httpx.AsyncClient:
        if self._client is None or self._socket != target:
            transport = httpx.AsyncHTTPTransport(uds=str(target), retries=1)
            limits = httpx.Limits(max_connections=None, keepalive_expiry=30)
            self._client = httpx.AsyncClient(transport=transport, limits=limits)
            self._socket = target
        return self._client


async def _relayed(response: httpx.Response, receive: Receive, send: Send) -> None:
    """Send the holder's answer on as it arrives, until it ends or the client goes (a stream
    whose client has gone must not keep the holder streaming)."""

    async def relay() -> None:
        headers = [
            (name, value)
            for name, value in response.headers.raw
            if name.lower() not in HOP_BY_HOP and name.lower() not in OWN_RESPONSE_HEADERS
        ]
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def client_gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    relaying = asyncio.create_task(relay())
    watching = asyncio.create_task(client_gone())
    try:
        await asyncio.wait({relaying, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relaying, watching):
            task.cancel()
        await asyncio.gather(relaying, watching, return_exceptions=True)
    if not relaying.cancelled() and (error := relaying.exception()) is not None:
        raise error


_TIMEOUT = httpx.Timeout(connect=2.0, read=None, write=30.0, pool=None)
"""Reads may stream for long (the holder bounds them); connecting is local and quick."""


def _url(scope: Scope) -> httpx.URL:
    """The request's own target, byte for byte."""
    raw = bytes(scope.get("raw_path") or scope["path"].encode())
    query = bytes(scope.get("query_string") or b"")
    return httpx.URL("http://holder").copy_with(raw_path=raw + (b"?" + query if query else b""))


def _request_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The client's headers but the connection's, with the client this worker resolved."""
    headers = [
        (name, value)
        for name, value in scope["headers"]
        if name not in HOP_BY_HOP and name not in FORWARDED and name not in NO_BODY
    ]
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", str(client[0]).encode()))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
    return headers


@asynccontextmanager
async def reads_held(app: ASGIApp, services: Services) -> AsyncIterator[None]:
    """While serving: if this worker holds the copy, serve `app` on the holder's socket too;
    if not, take the copy over once its holder is gone."""
    holder = services.read_holder
    if holder is None:
        yield
        return
    stopping = asyncio.Event()
    task = asyncio.create_task(_hold(app, services, stopping), name="read-holder")
    try:
        yield
    finally:
        stopping.set()
        if not await within(STOP_SECONDS, asyncio.shield(task)):
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _hold(app: ASGIApp, services: Services, stopping: asyncio.Event) -> None:
    """Wait for the copy (unless held already), then serve the socket until `stopping`."""
    holder = services.read_holder
    assert holder is not None
    if not services.claim_reads():
        while not services.claim_reads():
            if await within(CLAIM_SECONDS, stopping.wait()):
                return
        _log.info("this worker now holds the read models (the previous holder is gone)")
    config = uvicorn.Config(
        app,
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips="*",  # only this service's workers can reach the socket
        timeout_keep_alive=HOLDER_KEEP_ALIVE_SECONDS,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    try:
        listener = _unix_listener(holder.socket)
    except OSError:
        _log.exception("the holder cannot open its socket: the other workers answer from SQL")
        return
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="holder-socket")
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        server.should_exit = True  # a graceful end: open requests are answered first
        await asyncio.gather(serving, return_exceptions=True)
        listener.close()


def _unix_listener(path: Path) -> socket.socket:
    """A listening Unix socket at `path` that only this user may connect to."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))  # in a directory only this user may enter
    path.chmod(0o600)
    listener.listen(1024)
    listener.setblocking(False)  # noqa: FBT003 - the socket API's
    return listener

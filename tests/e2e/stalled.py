"""Hostile readers for the tests against a real server: clients that stop reading, and a ledger
large enough that an export to them fills every buffer between the two."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from tests.factories import ce, sourced, visit

REPS = [f"R-{number:02d}" for number in range(1, 41)]
TEN_YEARS = {"from": "2016-01-01", "to": "2026-01-08"}  # the longest span allowed, 3660 days
_PADDING = (
    "x" * 400
)  # twice per lead: about a kilobyte per exported event: megabytes of export in a few seconds


def _deal_events(number: int) -> list[dict[str, Any]]:
    deal, rep = f"D-{number:05d}", REPS[number % len(REPS)]
    day = number % 3650  # spread over the ten years from 2016 to 2025
    year, rest = 2016 + day // 365, day % 365
    time = f"{year}-{1 + rest // 31 % 12:02d}-{1 + rest % 28:02d}T10:00:00Z"
    lead = sourced(deal, rep, time)
    lead["data"]["account"] = {"name": f"Account {number} {_PADDING}", "industry": _PADDING}
    return [lead, visit(deal, rep, time.replace("T10", "T15"))]


def _targets() -> list[dict[str, Any]]:
    return [
        ce(
            "target.set",
            f"rep:{rep}",
            "2015-12-01T00:00:00Z",
            {"metric": metric, "period": "month", "value": "5"},
        )
        for rep in REPS
        for metric in ("leads", "client_visits")
    ]


async def load_ledger(base: str, token: str, deals: int = 4000) -> int:
    """Append targets for every rep and `deals` deals (lead and visit) over ten years."""
    events = _targets() + [event for number in range(deals) for event in _deal_events(number)]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/cloudevents-batch+json",
    }
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        for index in range(0, len(events), 400):
            body = orjson.dumps(events[index : index + 400])
            response = await http.post("/v1/events", content=body, headers=headers)
            assert response.status_code == 201, response.text
    return len(events)


@asynccontextmanager
async def stalled_get(base: str, path: str, token: str) -> AsyncIterator[str]:
    """GET `path` on a socket that reads the status line, then nothing; yields that line."""
    parts = urlsplit(base)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window: the server's writes stall after a few kilobytes are in flight.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        await writer.drain()
        status = (await asyncio.wait_for(reader.readline(), 30)).decode().strip()
        transport: Any = writer.transport
        transport.pause_reading()  # read nothing more: the server's writes pile up
        yield status
    finally:
        writer.transport.abort()

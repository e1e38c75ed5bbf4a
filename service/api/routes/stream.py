"""`GET /v1/events/stream`: the global feed as Server-Sent Events, resumable by position."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Row

from service.api.auth import ReaderKey
from service.api.deps import ServicesDep
from service.api.feed_items import feed_item
from service.api.problems import Problem
from service.application.services import Services
from service.digits import natural

router = APIRouter(prefix="/v1/events", tags=["events"])

STREAM_PATH = "/v1/events/stream"
_PAGE = 500
_POLL_SECONDS = 1.0
_RETRY_MS = 2000


def _frame(row: Row[Any]) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (row.position, orjson.dumps(feed_item(row)))


async def _frames(services: Services, request: Request, after: int) -> AsyncIterator[bytes]:
    """Events after `after` as they are committed; a comment line when idle (keeps proxies open)."""
    loop = asyncio.get_running_loop()
    heartbeat = services.settings.sse_heartbeat_seconds
    yield b"retry: %d\n: stream after position %d\n\n" % (_RETRY_MS, after)
    idle_since = loop.time()
    while not await request.is_disconnected():
        rows = await services.reader.feed(after, _PAGE)
        for row in rows:
            yield _frame(row)
            after = row.position
        if rows:
            idle_since = loop.time()
            continue
        if loop.time() - idle_since >= heartbeat:
            yield b": heartbeat\n\n"
            idle_since = loop.time()
        remaining = heartbeat - (loop.time() - idle_since)
        await services.live.wait(max(0.0, min(_POLL_SECONDS, remaining)))


def _resume_point(last_event_id: str | None, after: int) -> int:
    if last_event_id is None or last_event_id == "":
        return after
    position = natural(last_event_id)
    if position is None:
        raise Problem(
            400,
            "invalid-last-event-id",
            "Last-Event-ID must be a log position (a non-negative integer of ASCII digits)",
            title="Invalid Last-Event-ID",
        )
    return position


@router.get(
    "/stream",
    summary="Stream the global feed (SSE)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_events(
    request: Request,
    services: ServicesDep,
    _key: ReaderKey,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Start after this position.")] = 0,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this position (wins over `after`).")
    ] = None,
) -> StreamingResponse:
    """Every event after the resume point, then each new one as it commits; `id:` = position."""
    start = _resume_point(last_event_id, after)
    return StreamingResponse(
        _frames(services, request, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""`GET /v1/events/stream`: the global feed as Server-Sent Events, resumable by position.

A browser page reads it with `EventSource`: by its dashboard session, or by a short-lived token
from `POST /v1/events/stream/tokens` in `?access_token=` (see `service.api.security.stream_access`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.engine import Row

from service.api.deps import ServicesDep
from service.api.http.problems import Problem
from service.api.schemas.feed_items import feed_item
from service.api.security.auth import ReaderKey
from service.api.security.stream_access import StreamReader, stream_tokens
from service.application.services import Services
from service.digits import natural
from service.keys.api_keys import ApiKey

router = APIRouter(prefix="/v1/events", tags=["events"])

STREAM_PATH = "/v1/events/stream"
_PAGE = 500
_POLL_SECONDS = 1.0
_RETRY_MS = 2000


def _frame(row: Row[Any], retry: bytes = b"") -> bytes:
    return b"%sid: %d\ndata: %s\n\n" % (retry, row.position, orjson.dumps(feed_item(row)))


async def _frames(services: Services, request: Request, after: int) -> AsyncIterator[bytes]:
    """Events after `after` as they are committed; a comment line when idle (keeps proxies open)."""
    loop = asyncio.get_running_loop()
    heartbeat = services.settings.sse_heartbeat_seconds
    # A block of comments alone dispatches nothing in any client; `retry:` goes with the first
    # event, since a block holding only a field makes some clients report an empty message.
    yield b": stream after position %d\n\n" % after
    retry = b"retry: %d\n" % _RETRY_MS
    idle_since = loop.time()
    while not await request.is_disconnected():
        rows = await services.reader.feed(after, _PAGE)
        for row in rows:
            yield _frame(row, retry)
            retry = b""
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
    _key: Annotated[ApiKey, Depends(StreamReader())],
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Start after this position.")] = 0,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this position (wins over `after`).")
    ] = None,
    access_token: Annotated[
        str | None,
        Query(
            max_length=1024,
            description="A stream token from `POST /v1/events/stream/tokens`, for a browser's "
            "EventSource, which cannot send a header; a dashboard session's cookie also serves.",
        ),
    ] = None,
) -> StreamingResponse:
    """Every event after the resume point, then each new one as it commits; `id:` = position."""
    start = _resume_point(last_event_id, after)
    return StreamingResponse(
        _frames(services, request, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class StreamToken(BaseModel):
    """A token that opens the stream, to read only, for a few minutes."""

    access_token: str = Field(description="Give it as `?access_token=` to the stream.")
    expires_at: datetime
    expires_in: int = Field(description="Seconds it stays good.")


@router.post("/stream/tokens", response_model=StreamToken, summary="A token for a browser stream")
async def stream_token(request: Request, key: ReaderKey) -> StreamToken:
    """A short-lived token for `GET /v1/events/stream?access_token=…`, scoped to `read`."""
    now = datetime.now(UTC)
    token, expires = stream_tokens(request).issue(key, now)
    return StreamToken(
        access_token=token, expires_at=expires, expires_in=int((expires - now).total_seconds())
    )

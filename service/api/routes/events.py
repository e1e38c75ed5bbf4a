"""`/v1/events`: ingestion of CloudEvents and the global feed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from service.api.deps import ServicesDep
from service.api.http.limited_body import read_limited
from service.api.http.problems import Problem
from service.api.schemas.event_schemas import append_request_body, batch_request_body
from service.api.schemas.feed_items import feed_item
from service.api.security.auth import ReaderKey, WriterKey
from service.api.security.keyed_route import KeyedRoute
from service.application.consistent_reads import replica_has_head
from service.application.services import Services
from service.events.codec import BodyError, DecodedBody, decode_batch, decode_body
from service.events.envelope import CloudEvent, EnvelopeError, parse_event
from service.keys.api_keys import ApiKey
from service.store.errors import (
    AppendRejected,
    KeyReuseConflict,
    RetractionRejected,
    VersionConflict,
)

router = APIRouter(prefix="/v1/events", tags=["events"])
ingest_router = APIRouter(prefix="/v1/events", tags=["events"], route_class=KeyedRoute)
"""`POST /v1/events`, the busiest route: its key is checked without FastAPI's dependency
solving (see `service.api.security.keyed_route`)."""


class EventResult(BaseModel):
    """The outcome of one submitted event."""

    source: str
    id: str
    status: Literal["created", "duplicate"]
    position: int
    stream_version: int


class AppendResponse(BaseModel):
    """Per-event outcomes, in the order the events were sent."""

    results: list[EventResult]


class StoredEvent(BaseModel):
    """A stored event: its CloudEvents attributes and its place in the log."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    position: int
    stream_version: int
    recorded_at: datetime
    schema_version: int
    hash: str


class FeedPage(BaseModel):
    """A page of the global feed; ask again with `after=next_after` for the next one."""

    events: list[StoredEvent]
    next_after: int = Field(description="The cursor for the next page: the last position here.")
    head: int = Field(description="The newest position in the log when this page was read.")


VALIDATION_SLICE = 100
"""Events validated between two yields to the event loop: a large batch must not hold up the
append transaction of another request, whose next statement is waiting for the loop."""


async def _validate_all(raw_events: list[Any], text_checked: bool) -> list[CloudEvent]:
    now = datetime.now(UTC)
    events: list[CloudEvent] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_events):
        if index and index % VALIDATION_SLICE == 0:
            await asyncio.sleep(0)
        try:
            events.append(parse_event(raw, now=now, text_checked=text_checked))
        except EnvelopeError as exc:
            errors.extend(
                {"index": index, "pointer": e.pointer, "detail": e.detail} for e in exc.errors
            )
    if errors:
        raise Problem(
            422,
            "invalid-events",
            "one or more events are invalid; nothing was stored",
            title="Invalid events",
            errors=errors,
        )
    return events


def _rejection(exc: AppendRejected) -> Problem:
    items = [
        {"index": i.index, "source": i.source, "id": i.id, "detail": i.detail} for i in exc.items
    ]
    if isinstance(exc, KeyReuseConflict):
        return Problem(
            409,
            "idempotency-conflict",
            "an event id was reused with different content; nothing was stored",
            title="Conflicting event",
            errors=items,
        )
    if isinstance(exc, VersionConflict):
        return Problem(
            409,
            "version-conflict",
            "a stream is not at the expected version; nothing was stored",
            title="Version conflict",
            errors=items,
        )
    assert isinstance(exc, RetractionRejected)
    return Problem(
        422,
        "invalid-retraction",
        "a retraction names no event it may retract; nothing was stored",
        title="Invalid retraction",
        errors=items,
    )


_APPEND_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": AppendResponse, "description": "Every event was a duplicate."},
    201: {"model": AppendResponse, "description": "At least one new event was stored."},
}


@ingest_router.post(
    "",
    summary="Append events",
    status_code=201,
    openapi_extra={"requestBody": append_request_body()},
    responses=_APPEND_RESPONSES,
)
async def append_events(request: Request, key: WriterKey) -> Response:
    """Store CloudEvents (one, a batch, or binary mode) exactly once, all or nothing."""
    return await _append(
        request,
        key,
        lambda body: decode_body(request.headers.get("content-type"), request.headers, body),
    )


@ingest_router.post(
    "/batch",
    summary="Append a batch of events",
    status_code=201,
    openapi_extra={"requestBody": batch_request_body()},
    responses=_APPEND_RESPONSES,
)
async def append_batch(request: Request, key: WriterKey) -> Response:
    """Store a batch of CloudEvents exactly once, all or nothing, as `POST /v1/events` does a
    batch; the one media type is `application/cloudevents-batch+json`."""
    return await _append(
        request, key, lambda body: decode_batch(request.headers.get("content-type"), body)
    )


async def _append(
    request: Request, key: ApiKey, decode: Callable[[bytes], DecodedBody]
) -> Response:
    """Read the body within its limit, decode it, validate every event, append them all."""
    services: Services = request.app.state.services
    settings = services.settings
    body = await read_limited(request, settings.max_body_bytes)
    try:
        decoded = decode(body)
    except BodyError as exc:
        extra: dict[str, Any] = {}
        if exc.errors:
            extra["errors"] = [{"pointer": p, "detail": d} for p, d in exc.errors]
        raise Problem(exc.status, exc.slug, exc.detail, title=exc.title, **extra) from exc
    if len(decoded.events) > settings.max_batch_events:
        raise Problem(
            413,
            "batch-too-large",
            f"a batch holds at most {settings.max_batch_events} events",
            title="Content Too Large",
            limit_events=settings.max_batch_events,
        )
    if not decoded.events:
        raise Problem(422, "empty-batch", "a batch holds at least one event", title="Empty batch")
    events = await _validate_all(decoded.events, decoded.text_checked)
    metadata = {"actor": key.name, "key_id": key.key_id}
    try:
        results = await services.appender.append(events, metadata)
    except AppendRejected as exc:
        raise _rejection(exc) from exc
    status = 201 if any(r.status == "created" for r in results) else 200
    # orjson writes the `AppendResult` dataclasses field by field, as `EventResult` documents.
    payload = orjson.dumps({"results": results})
    return Response(payload, status_code=status, media_type="application/json")


@router.get("", summary="Read the global feed", response_model=FeedPage)
async def read_feed(
    services: ServicesDep,
    _key: ReaderKey,
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="Return events after this position.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Events in position order after `after`; no committed event is ever skipped.

    On a read replica, answered once it holds every event acknowledged before the request."""
    await replica_has_head(services)
    head = await services.read_log.head()
    rows = await services.read_log.feed(after, limit)
    events = [feed_item(row) for row in rows]
    next_after = rows[-1].position if rows else after
    page = {"events": events, "next_after": next_after, "head": max(head, next_after)}
    headers = {"X-Funnel-Position": str(page["head"])}
    return Response(orjson.dumps(page), media_type="application/json", headers=headers)

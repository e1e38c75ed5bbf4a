"""`/v1/audit`: chain verification, period replay and export, and the log of audit requests.

Every request here needs the `audit` scope and is itself logged in `audit_requests`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from service.api.deps import ServicesDep
from service.api.http.export_stream import ExportResponse
from service.api.http.longest_span import bounded_period
from service.api.http.problems import Problem
from service.api.http.time_params import instant
from service.api.schemas.audit import AuditRequestPage, ReplayModel, VerifyModel
from service.api.security.auth import AuditorKey
from service.application import audits
from service.application.services import Services
from service.audit.export import NDJSON, ExportScope
from service.audit.render import replay_json, verify_json
from service.audit.request_log import AuditRequest, LoggedRequest
from service.keys.api_keys import ApiKey
from service.store.chain.hashing import iso
from service.store.chain.verifier import Anchor

PREFIX = "/v1/audit"
router = APIRouter(prefix=PREFIX, tags=["audit"])

From = Annotated[str | None, Query(alias="from", description="Start (a date: 00:00).")]
To = Annotated[str | None, Query(description="End, excluded (a date: 00:00).")]
Period = Annotated[str | None, Query(alias="period", description="2026-Q1, 2026-03, 2026-W10")]
KnownAt = Annotated[
    str | None,
    Query(description="Transaction time; default now (taken after every append in flight)."),
]
_HEX_HASH = re.compile(r"[0-9a-f]{64}")  # matched whole: `bytes.fromhex` skips whitespace


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _asker(key: ApiKey, request: Request) -> AuditRequest:
    return AuditRequest(actor=key.name, endpoint=request.url.path, key_id=key.key_id)


async def _known_at(services: Services, value: str | None) -> datetime:
    return await audits.known_at_or_sealed(services, instant(services.settings, "known_at", value))


def _anchor(position: int | None, hash_hex: str | None) -> Anchor | None:
    if position is None and hash_hex is None:
        return None
    if position is None or hash_hex is None or not _HEX_HASH.fullmatch(hash_hex):
        raise Problem(
            422,
            "invalid-request",
            "give both 'anchor_position' and 'anchor_hash' (64 lower-case hex digits)",
            title="Invalid request",
            errors=[{"pointer": "/query/anchor_hash", "detail": "both or neither"}],
        )
    return Anchor(position, bytes.fromhex(hash_hex))


@router.get("/verify", response_model=VerifyModel, summary="Verify the hash chain")
async def verify_chain(
    request: Request,
    services: ServicesDep,
    key: AuditorKey,
    anchor_position: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="A position whose hash you kept from a past check."),
    ] = None,
    anchor_hash: Annotated[str | None, Query(description="The hash you kept for it (hex).")] = None,
) -> Response:
    """Recompute every event's hash from its stored columns; name the first break and why."""
    anchor = _anchor(anchor_position, anchor_hash)
    report = await audits.verify_chain(services, anchor, _asker(key, request))
    return _json(verify_json(report))


@router.get("/replay", response_model=ReplayModel, summary="Replay a period from the raw events")
async def replay_period(
    request: Request,
    services: ServicesDep,
    key: AuditorKey,
    from_: From = None,
    to: To = None,
    period_: Period = None,
    known_at: KnownAt = None,
) -> Response:
    """The scoreboard by rep recomputed from the events alone, compared with the read models."""
    start, end = bounded_period(services.settings, from_, to, period_)
    known = await _known_at(services, known_at)
    # Best effort: a lagging projector only makes `projection_matches` null, never the replay.
    await audits.let_projection_settle(services)
    report = await audits.replay_period(
        services, start=start, end=end, known_at=known, asker=_asker(key, request)
    )
    return _json(replay_json(report, period_))


@router.get(
    "/export",
    summary="Export a period's events as NDJSON",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A header line, one line per event, a trailer line (docs/audit.md).",
            "content": {NDJSON: {"schema": {"type": "string"}}},
        }
    },
)
async def export_period(
    request: Request,
    services: ServicesDep,
    key: AuditorKey,
    from_: From = None,
    to: To = None,
    period_: Period = None,
    known_at: KnownAt = None,
) -> StreamingResponse:
    """Every event that decides the period, with positions and hashes, streamed as NDJSON."""
    settings = services.settings
    start, end = bounded_period(settings, from_, to, period_)
    known = await _known_at(services, known_at)
    scope = ExportScope(start, end, known, settings.timezone, period_)
    slot = services.exports.enter()
    try:
        pages = await audits.export_period(services, scope, _asker(key, request))
    except BaseException:
        slot.release()
        raise
    name = f"funnel-ledger-{period_ or iso(start)[:10]}.ndjson"
    return ExportResponse(
        pages,
        slot=slot,
        stall_seconds=settings.export_stall_seconds,
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _logged_json(logged: LoggedRequest) -> dict[str, Any]:
    asked = logged.request
    span = None
    if asked.period_from is not None and asked.period_to is not None:
        span = {"from": iso(asked.period_from), "to": iso(asked.period_to)}
    return {
        "id": logged.id,
        "requested_at": iso(logged.requested_at),
        "completed_at": None if logged.completed_at is None else iso(logged.completed_at),
        "key_id": asked.key_id,
        "actor": asked.actor,
        "endpoint": asked.endpoint,
        "period": span,
        "known_at": None if asked.known_at is None else iso(asked.known_at),
        "digest": logged.digest,
        "result": dict(logged.result),
    }


@router.get("/requests", response_model=AuditRequestPage, summary="The audit request log")
async def audit_requests(
    request: Request,
    services: ServicesDep,
    key: AuditorKey,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only requests with a lower id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Who asked which audit question when, and the digest answered; newest first."""
    logged = await audits.request_log(
        services, before=before, limit=limit, asker=_asker(key, request)
    )
    return _json(
        {
            "requests": [_logged_json(entry) for entry in logged],
            "next_before": logged[-1].id if len(logged) == limit else None,
        }
    )

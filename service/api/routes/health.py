"""Liveness, readiness and metrics (no key needed; they reveal no business data)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.api.deps import ServicesDep
from service.api.metrics import CONTENT_TYPE, Metrics
from service.store import checkpoints
from service.store.read_model_writer import READ_MODELS

router = APIRouter(tags=["operations"])
_log = logging.getLogger(__name__)


class ProjectorReadiness(BaseModel):
    """How far the read models are behind the log, and who projects them."""

    checkpoint: int
    head: int
    lag: int
    leader: bool
    running_here: bool
    last_error: str | None


class MirrorReadiness(BaseModel):
    """The in-memory copy of the read models that answers scoreboards and funnels."""

    position: int | None
    loading: bool


class Readiness(BaseModel):
    """Whether the service can answer: the database, and the projector's state."""

    status: str
    database: str
    projector: ProjectorReadiness | None
    read_mirror: MirrorReadiness | None = None


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Readiness,
    responses={503: {"description": "Not ready: the database does not answer"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """The database answers; the projector's checkpoint, lag and leadership are reported."""
    try:
        head = await services.reader.head()
        async with services.engine.connect() as conn:
            checkpoint = await checkpoints.load(conn, READ_MODELS)
    except Exception:  # any failure means not ready
        _log.warning("readiness check failed: the database does not answer", exc_info=True)
        body: dict[str, Any] = {"status": "unavailable", "database": "down", "projector": None}
        return JSONResponse(body, 503)
    projector = {
        "checkpoint": checkpoint.position,
        "head": head,
        "lag": max(head - checkpoint.position, 0),
        "leader": services.projector.is_leader,
        "running_here": services.settings.run_projector,
        "last_error": checkpoint.last_error,
    }
    mirror = {"position": services.mirror.position, "loading": services.mirror.loading}
    body = {"status": "ok", "database": "up", "projector": projector, "read_mirror": mirror}
    return JSONResponse(body)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Events ingested and rejected, projector checkpoint and lag, request latency."""
    registry: Metrics = request.app.state.metrics
    text = await registry.render(services.engine, services.reader, services.projector.is_leader)
    return Response(text, media_type=CONTENT_TYPE)

"""Liveness, readiness and metrics.

Liveness and the readiness status are public: an orchestrator's probes carry no key. What
would tell an outsider about the service's state (the projector's position, leadership and
last error, the metrics) needs a key with the `metrics` scope (or `admin`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.api.deps import ServicesDep
from service.api.security.auth import KeyRequirement, bearer_token
from service.application.metrics import CONTENT_TYPE, Metrics
from service.keys.api_keys import Scope
from service.store.database.replica import replica_lag
from service.store.projection import checkpoints
from service.store.projection.read_model_writer import READ_MODELS

router = APIRouter(tags=["operations"])
_log = logging.getLogger(__name__)
_metrics_key = KeyRequirement(Scope.METRICS)


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
    warm: bool
    full_loads: int
    """Full loads completed since start-up: 1 once warm; each further one was a stretch of SQL
    answers after the tables changed under the copy without a preload."""


class ReplicaReadiness(BaseModel):
    """The read replica (`DATABASE_READ_URL`): how far it is behind the primary."""

    in_recovery: bool
    head: int
    lag_events: int
    lag_bytes: int | None
    lag_seconds: float | None


class Readiness(BaseModel):
    """Whether the service can answer: the database, and the projector's state."""

    status: str
    warm: bool | None = None
    database: str
    projector: ProjectorReadiness | None
    read_mirror: MirrorReadiness | None = None
    replica: ReplicaReadiness | None = None


class ReadinessStatus(BaseModel):
    """Whether the service can answer, as told to a caller without a `metrics` key."""

    status: str
    warm: bool | None = None
    """Whether scoreboards and funnels are answered from the in-memory copy (not SQL)."""


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Readiness | ReadinessStatus,
    responses={
        503: {
            "model": Readiness | ReadinessStatus,
            "description": "Not ready: the database does not answer (`unavailable`), or the "
            "in-memory copy of the read models has not finished its first load (`warming`)",
        }
    },
    # No key: the status alone. A key with the `metrics` scope: the detail.
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
)
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    """The database answers and the in-memory copy has loaded once (until then `503 warming`);
    a `metrics` key also reads the projector and the read models."""
    detailed = bearer_token(request) is not None
    if detailed:  # a key that is sent must be good: 401 or 403 otherwise
        await _metrics_key(request)
    try:
        head = await services.reader.head()
        async with services.engine.connect() as conn:
            checkpoint = await checkpoints.load(conn, READ_MODELS)
        # The read routes answer from the replica: one that does not answer is not ready either.
        lag = None
        if services.read_engine is not services.engine:
            lag = await replica_lag(services.engine, services.read_engine)
    except Exception:  # any failure means not ready
        _log.warning("readiness check failed: the database does not answer", exc_info=True)
        body: dict[str, Any] = {"status": "unavailable", "database": "down", "projector": None}
        return JSONResponse(body if detailed else {"status": "unavailable"}, 503)
    mirror = services.mirror
    status, code = ("ok", 200) if mirror.first_load_ended else ("warming", 503)
    if not detailed:
        return JSONResponse({"status": status, "warm": mirror.warm}, code)
    projector = {
        "checkpoint": checkpoint.position,
        "head": head,
        "lag": max(head - checkpoint.position, 0),
        "leader": services.projector.is_leader,
        "running_here": services.settings.run_projector,
        "last_error": checkpoint.last_error,
    }
    copy = {
        "position": mirror.position,
        "loading": mirror.loading,
        "warm": mirror.warm,
        "full_loads": mirror.full_loads,
    }
    body = {
        "status": status,
        "warm": mirror.warm,
        "database": "up",
        "projector": projector,
        "read_mirror": copy,
    }
    if lag is not None:
        body["replica"] = {
            "in_recovery": lag.in_recovery,
            "head": lag.head,
            "lag_events": lag.lag_events,
            "lag_bytes": lag.lag_bytes,
            "lag_seconds": lag.lag_seconds,
        }
    return JSONResponse(body, code)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
    dependencies=[Depends(_metrics_key)],
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Events ingested and rejected, projector checkpoint and lag, request latency."""
    registry: Metrics = request.app.state.metrics
    text = await registry.render(services.engine, services.reader, services.projector.is_leader)
    return Response(text, media_type=CONTENT_TYPE)

"""`/v1/admin`: projection status and read-model rebuilds."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.api.deps import ServicesDep
from service.api.security.auth import AdminKey
from service.application.rebuilds import projection_lag

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class RebuildModel(BaseModel):
    """A rebuild's progress."""

    status: Literal["idle", "running", "done", "failed"]
    done: int
    total: int
    started_at: str | None
    finished_at: str | None
    error: str | None


class ProjectionStatus(BaseModel):
    """How far the read models are behind the log."""

    name: str
    checkpoint: int
    head: int
    lag: int
    updated_at: str
    last_error: str | None
    last_error_at: str | None
    leader_here: bool
    rebuild: RebuildModel


@router.get("/projection", response_model=ProjectionStatus, summary="Projection status")
async def projection_status(services: ServicesDep, _key: AdminKey) -> dict[str, Any]:
    """Checkpoint, head, lag and last error of the read models."""
    lag = await projection_lag(services.engine, services.reader)
    checkpoint = lag.checkpoint
    return {
        "name": checkpoint.name,
        "checkpoint": checkpoint.position,
        "head": lag.head,
        "lag": lag.lag,
        "updated_at": checkpoint.updated_at.isoformat(),
        "last_error": checkpoint.last_error,
        "last_error_at": checkpoint.last_error_at.isoformat() if checkpoint.last_error_at else None,
        "leader_here": services.projector.is_leader,
        "rebuild": services.rebuilds.state.to_json(),
    }


@router.post(
    "/rebuild",
    status_code=202,
    response_model=RebuildModel,
    summary="Rebuild the read models",
    responses={409: {"description": "A rebuild is already running"}},
)
async def start_rebuild(services: ServicesDep, _key: AdminKey) -> Any:
    """Start rebuilding every read model from position 0; the service keeps answering."""
    rebuilds = services.rebuilds
    started = rebuilds.start(
        services.engine,
        services.mirror,
        preload_wait_seconds=services.settings.rebuild_preload_wait_seconds,
        listener=services.preloads,
    )
    if not started:
        return JSONResponse(rebuilds.state.to_json(), status_code=409)
    return rebuilds.state.to_json()

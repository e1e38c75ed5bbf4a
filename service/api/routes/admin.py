"""`/v1/admin`: projection status and read-model rebuilds."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.api.auth import AdminKey
from service.api.container import Services
from service.api.deps import ServicesDep
from service.store import checkpoints
from service.store.read_model_writer import READ_MODELS
from service.store.rebuild import rebuild

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@dataclass(slots=True)
class RebuildState:
    """The progress of the latest rebuild started by this process."""

    status: Literal["idle", "running", "done", "failed"] = "idle"
    done: int = 0
    total: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }


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


def _state(services: Services) -> RebuildState:
    state: RebuildState | None = getattr(services, "rebuild_state", None)
    if state is None:
        state = RebuildState()
        services.rebuild_state = state
    return state


@router.get("/projection", response_model=ProjectionStatus, summary="Projection status")
async def projection_status(services: ServicesDep, _key: AdminKey) -> dict[str, Any]:
    """Checkpoint, head, lag and last error of the read models."""
    head = await services.reader.head()
    async with services.engine.connect() as conn:
        checkpoint = await checkpoints.load(conn, READ_MODELS)
    return {
        "name": checkpoint.name,
        "checkpoint": checkpoint.position,
        "head": head,
        "lag": max(head - checkpoint.position, 0),
        "updated_at": checkpoint.updated_at.isoformat(),
        "last_error": checkpoint.last_error,
        "last_error_at": checkpoint.last_error_at.isoformat() if checkpoint.last_error_at else None,
        "leader_here": services.projector.is_leader,
        "rebuild": _state(services).to_json(),
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
    state = _state(services)
    if state.status == "running":
        return JSONResponse(state.to_json(), status_code=409)

    def progress(done: int, total: int) -> None:
        state.done, state.total = done, total

    async def run() -> None:
        try:
            await rebuild(services.engine, progress=progress)
            state.status = "done"
        except Exception as exc:
            state.status, state.error = "failed", repr(exc)
            raise
        finally:
            state.finished_at = datetime.now(UTC)

    state.status, state.done, state.total, state.error = "running", 0, 0, None
    state.started_at, state.finished_at = datetime.now(UTC), None
    state.task = asyncio.create_task(run(), name="rebuild")
    state.task.add_done_callback(_swallow)
    return state.to_json()


async def stop_rebuild(services: Services) -> None:
    """Cancel a rebuild still running when the service stops; its tables are left unswapped."""
    state: RebuildState | None = getattr(services, "rebuild_state", None)
    if state is not None and state.task is not None and not state.task.done():
        state.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await state.task


def _swallow(task: asyncio.Task[None]) -> None:
    # The failure is kept in the state for the status endpoint.
    with contextlib.suppress(Exception, asyncio.CancelledError):
        task.result()

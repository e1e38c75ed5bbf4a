"""Rebuilding the read models from the log, in the background of a running service or at once,
and how far the read models are behind the log."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.log.reader import EventReader
from service.store.mirror.preload_listener import PreloadListener
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection import checkpoints
from service.store.projection.preload_notices import announce
from service.store.projection.read_model_writer import READ_MODELS, Tables
from service.store.projection.rebuild import Progress, RebuildReport, rebuild

RebuildStatus = Literal["idle", "running", "done", "failed"]


@dataclass(slots=True)
class RebuildState:
    """The progress of the latest rebuild started by this process."""

    status: RebuildStatus = "idle"
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


class Rebuilds:
    """The one background rebuild a process may run at a time, and its state."""

    def __init__(self) -> None:
        self.state = RebuildState()

    def start(
        self,
        engine: AsyncEngine,
        mirror: ReadMirror | None = None,
        *,
        preload_wait_seconds: float = 0.0,
        listener: PreloadListener | None = None,
    ) -> bool:
        """Start rebuilding every read model from position 0; False if one is running.

        `mirror` (the service's in-memory copy) loads the new generation before it is swapped
        in, so that reads go on being answered from memory across the swap; the other running
        services are told to do the same and waited for up to `preload_wait_seconds`
        (`listener` is this process's own, which is left out).
        """
        state = self.state
        if state.status == "running":
            return False

        def progress(done: int, total: int) -> None:
            state.done, state.total = done, total

        async def preload(spare: Tables, position: int) -> None:
            origin = listener.pid if listener is not None else 0
            others = _announce(engine, position, preload_wait_seconds, origin)
            if mirror is not None:
                await asyncio.gather(mirror.preload(engine, spare, position), others)
            else:
                await others

        async def run() -> None:
            try:
                await rebuild(engine, progress=progress, before_swap=preload)
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
        return True

    async def stop(self) -> None:
        """Cancel a rebuild still running (the service stops); its tables are left unswapped."""
        task = self.state.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _swallow(task: asyncio.Task[None]) -> None:
    # The failure is kept in the state for the status endpoint.
    with contextlib.suppress(Exception, asyncio.CancelledError):
        task.result()


async def rebuild_now(
    engine: AsyncEngine, progress: Progress | None = None, *, preload_wait_seconds: float = 0.0
) -> RebuildReport:
    """Rebuild the read models in the foreground and swap them in (the command line's); the
    running services are waited for up to `preload_wait_seconds` to preload them first."""

    async def preload(_spare: Tables, position: int) -> None:
        await _announce(engine, position, preload_wait_seconds, origin=0)

    return await rebuild(engine, progress=progress, before_swap=preload)


async def _announce(engine: AsyncEngine, position: int, wait_seconds: float, origin: int) -> None:
    """The running services told of the spare generation and waited for (with a wait)."""
    if wait_seconds > 0:
        await announce(engine, position, wait_seconds=wait_seconds, origin=origin)


@dataclass(frozen=True, slots=True)
class ProjectionLag:
    """The read models' checkpoint against the log's head."""

    checkpoint: checkpoints.Checkpoint
    head: int

    @property
    def lag(self) -> int:
        """Events not yet projected."""
        return max(self.head - self.checkpoint.position, 0)


async def projection_lag(engine: AsyncEngine, reader: EventReader) -> ProjectionLag:
    """Where the read models stand against the log's head, read now."""
    head = await reader.head()
    async with engine.connect() as conn:
        checkpoint = await checkpoints.load(conn, READ_MODELS)
    return ProjectionLag(checkpoint, head)

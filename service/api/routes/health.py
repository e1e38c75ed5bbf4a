"""Liveness and readiness probes (no key needed; they reveal no data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.api.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", responses={503: {"description": "Not ready"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """The database answers."""
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure means not ready
        return JSONResponse({"status": "unavailable", "database": "down"}, 503)
    return JSONResponse({"status": "ok", "database": "up"})

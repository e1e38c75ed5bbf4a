"""The bare baseline: FastAPI + asyncpg, a small validated body, one INSERT per request."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Response
from pydantic import BaseModel


class Event(BaseModel):
    """A small event body."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: dict[str, Any]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open a pool like the service's."""
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(url, min_size=4, max_size=10)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Up."""
    return {"status": "ok"}


@app.post("/events", status_code=201)
async def append(event: Event) -> Response:
    """Validate and insert one event."""
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO bare_events (source, event_id, type, subject, time, data) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            event.source,
            event.id,
            event.type,
            event.subject,
            event.time,
            orjson.dumps(event.data).decode(),
        )
    return Response(b'{"status":"created"}', status_code=201, media_type="application/json")

"""The audit request log: every audit question asked, by whom, and the digest of its answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.instants import as_stored

_COLUMNS = (
    "id, requested_at, completed_at, key_id, actor, endpoint, period_from, period_to, known_at, "
    "digest, result"
)
_INSERT = text(
    "INSERT INTO audit_requests (key_id, actor, endpoint, period_from, period_to, known_at, "
    "digest, result, completed_at) VALUES (:key_id, :actor, :endpoint, :period_from, "
    ":period_to, :known_at, :digest, CAST(:result AS jsonb), "
    "CASE WHEN :complete THEN clock_timestamp() END) RETURNING id"
)
_COMPLETE = text(
    "UPDATE audit_requests SET completed_at = clock_timestamp(), digest = :digest, "
    "result = CAST(:result AS jsonb) WHERE id = :id AND completed_at IS NULL"
)
_PAGE = text(
    f"SELECT {_COLUMNS} FROM audit_requests "
    "WHERE CAST(:before AS bigint) IS NULL OR id < :before ORDER BY id DESC LIMIT :limit"
)


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """One audit question: who asked (key id, or none from the command line) and about what."""

    actor: str
    endpoint: str
    key_id: str | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None
    known_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """An audit request as logged, with its answer's digest once complete."""

    id: int
    requested_at: datetime
    completed_at: datetime | None
    request: AuditRequest
    digest: str | None
    result: Mapping[str, Any] = field(default_factory=dict)


class AuditLog:
    """Appends audit requests and lists them, newest first."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self,
        request: AuditRequest,
        *,
        digest: str | None,
        result: Mapping[str, Any],
        complete: bool = True,
    ) -> int:
        """Log a request (already answered unless `complete` is false); return its id."""
        async with self._engine.begin() as conn:
            row = await conn.execute(
                _INSERT,
                {
                    "key_id": request.key_id,
                    "actor": request.actor,
                    "endpoint": request.endpoint,
                    "period_from": request.period_from,
                    "period_to": request.period_to,
                    "known_at": request.known_at,
                    "digest": digest,
                    "result": orjson.dumps(dict(result)).decode(),
                    "complete": complete,
                },
            )
            return int(row.scalar_one())

    async def complete(self, request_id: int, *, digest: str, result: Mapping[str, Any]) -> None:
        """Complete a request logged when it started (a streamed export), once."""
        async with self._engine.begin() as conn:
            await conn.execute(
                _COMPLETE,
                {"id": request_id, "digest": digest, "result": orjson.dumps(dict(result)).decode()},
            )

    async def page(self, *, before: int | None, limit: int) -> list[LoggedRequest]:
        """Up to `limit` requests with an id below `before` (all when None), newest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(_PAGE, {"before": before, "limit": limit})
            return [_to_logged(row) for row in result]


def _stored(instant: datetime | None) -> datetime | None:
    # A log written by an earlier version may hold `-infinity` (from a year-1 `from`).
    return None if instant is None else as_stored(instant)


def _to_logged(row: Row[Any]) -> LoggedRequest:
    return LoggedRequest(
        id=row.id,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
        request=AuditRequest(
            actor=row.actor,
            endpoint=row.endpoint,
            key_id=row.key_id,
            period_from=_stored(row.period_from),
            period_to=_stored(row.period_to),
            known_at=_stored(row.known_at),
        ),
        digest=row.digest,
        result=row.result,
    )

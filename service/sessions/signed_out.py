"""Dashboard sessions that were signed out of, kept until their cookie would have expired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_END = text(
    "INSERT INTO ended_sessions (session_id, expires_at) VALUES (:session_id, :expires_at) "
    "ON CONFLICT (session_id) DO NOTHING"
)
# A row is needed only while the cookie it refuses could still be presented.
_FORGET_EXPIRED = text("DELETE FROM ended_sessions WHERE expires_at < now()")
_ENDED = text("SELECT EXISTS (SELECT 1 FROM ended_sessions WHERE session_id = :session_id)")


class EndedSessions:
    """Records and finds ended sessions, shared by every process on the database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def end(self, session_id: str, expires_at: datetime) -> None:
        """Refuse `session_id` from now until `expires_at` (when its cookie expires anyway)."""
        async with self._engine.begin() as conn:
            await conn.execute(_FORGET_EXPIRED)
            await conn.execute(_END, {"session_id": session_id, "expires_at": expires_at})

    async def is_ended(self, session_id: str) -> bool:
        """Whether `session_id` was signed out of."""
        async with self._engine.connect() as conn:
            return bool((await conn.execute(_ENDED, {"session_id": session_id})).scalar_one())

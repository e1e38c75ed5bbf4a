"""Dashboard sessions: a signed, expiring cookie naming the API key that signed in.

The cookie holds only the key's id and a random session id, signed with HMAC (itsdangerous)
under `FUNNEL_SESSION_SECRET` (a random per-process secret when unset). It never holds the key's
secret. Every request re-checks that the key still exists, is usable and may read, so revoking
the key ends its sessions at once, and that the session was not signed out of (the ended
sessions are kept in the database, so signing out holds for every worker).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from service.keys.api_keys import ApiKey, KeyStore, Scope
from service.sessions.signed_out import EndedSessions

COOKIE: Final = "fl_session"
_SALT: Final = "funnel-ledger.dashboard-session"


@dataclass(frozen=True, slots=True)
class Session:
    """A genuine, unexpired session cookie's content."""

    key_id: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionSigner:
    """Issues and checks session cookies."""

    secret: bytes
    lifetime: timedelta

    @property
    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt=_SALT)

    def issue(self, key: ApiKey) -> str:
        """A new cookie value for a signed-in key."""
        return self._serializer.dumps({"kid": key.key_id, "sid": secrets.token_urlsafe(16)})

    def session(self, cookie: str | None) -> Session | None:
        """The session of a genuine, unexpired cookie, else None."""
        if not cookie:
            return None
        try:
            payload, signed_at = self._serializer.loads(
                cookie, max_age=int(self.lifetime.total_seconds()), return_timestamp=True
            )
        except BadSignature:  # also covers an expired signature
            return None
        if not isinstance(payload, dict):
            return None
        key_id, session_id = payload.get("kid"), payload.get("sid")
        # A cookie without a session id (issued before sessions could be ended) is refused:
        # signing out could not end it.
        if not isinstance(key_id, str) or not isinstance(session_id, str):
            return None
        return Session(key_id, session_id, signed_at + self.lifetime)

    def max_age(self, key: ApiKey, now: datetime) -> int:
        """The cookie's lifetime in seconds: the session's, but never past the key's expiry."""
        seconds = self.lifetime.total_seconds()
        if key.expires_at is not None:
            seconds = min(seconds, (key.expires_at - now).total_seconds())
        return max(int(seconds), 0)


def may_read(key: ApiKey | None, now: datetime) -> bool:
    """Whether a key may see the dashboard now (scope read or admin, usable)."""
    return key is not None and key.usable_at(now) and key.allows(Scope.READ)


async def session_key(
    signer: SessionSigner, keys: KeyStore, ended: EndedSessions, cookie: str | None
) -> ApiKey | None:
    """The key behind a session cookie, if the session and the key are both still good."""
    session = signer.session(cookie)
    if session is None or await ended.is_ended(session.session_id):
        return None
    key = await keys.get(session.key_id)
    return key if may_read(key, datetime.now(UTC)) else None


async def end_session(signer: SessionSigner, ended: EndedSessions, cookie: str | None) -> None:
    """Refuse the cookie's session from now on (nothing to do for no genuine session)."""
    session = signer.session(cookie)
    if session is not None:
        await ended.end(session.session_id, session.expires_at)


def set_session(response: Response, value: str, max_age: int, *, secure: bool) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(
        COOKIE, value, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/"
    )


def clear_session(response: Response, *, secure: bool) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=secure, path="/")

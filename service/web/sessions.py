"""Dashboard sessions: a signed, expiring cookie naming the API key that signed in.

The cookie holds only the key's id and a nonce, signed with HMAC (itsdangerous) under
`FUNNEL_SESSION_SECRET` (a random per-process secret when unset). It never holds the key's
secret. Every request re-checks that the key still exists, is usable and may read, so revoking
the key ends its sessions at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from service.store.keys import ApiKey, KeyStore, Scope

COOKIE: Final = "fl_session"
_SALT: Final = "funnel-ledger.dashboard-session"


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
        return self._serializer.dumps({"kid": key.key_id, "nonce": secrets.token_hex(8)})

    def key_id(self, cookie: str | None) -> str | None:
        """The key id of a genuine, unexpired cookie, else None."""
        if not cookie:
            return None
        try:
            payload = self._serializer.loads(cookie, max_age=int(self.lifetime.total_seconds()))
        except BadSignature:  # also covers an expired signature
            return None
        key_id = payload.get("kid") if isinstance(payload, dict) else None
        return key_id if isinstance(key_id, str) else None

    def max_age(self, key: ApiKey, now: datetime) -> int:
        """The cookie's lifetime in seconds: the session's, but never past the key's expiry."""
        seconds = self.lifetime.total_seconds()
        if key.expires_at is not None:
            seconds = min(seconds, (key.expires_at - now).total_seconds())
        return max(int(seconds), 0)


def may_read(key: ApiKey | None, now: datetime) -> bool:
    """Whether a key may see the dashboard now (scope read or admin, usable)."""
    return key is not None and key.usable_at(now) and key.allows(Scope.READ)


async def session_key(signer: SessionSigner, keys: KeyStore, cookie: str | None) -> ApiKey | None:
    """The key behind a session cookie, if the session and the key are both still good."""
    key_id = signer.key_id(cookie)
    if key_id is None:
        return None
    key = await keys.get(key_id)
    return key if may_read(key, datetime.now(UTC)) else None


def set_session(response: Response, value: str, max_age: int, *, secure: bool) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(
        COOKIE, value, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/"
    )


def clear_session(response: Response, *, secure: bool) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=secure, path="/")

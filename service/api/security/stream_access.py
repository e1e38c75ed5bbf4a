"""Who may read the live feed from a browser page: a key, a dashboard session or a stream token.

A browser's `EventSource` cannot send an `Authorization` header. A page of the dashboard reads
the feed with its session cookie (same site only: the cookie is SameSite=Strict). Any other page
asks `POST /v1/events/stream/tokens` with a key that may read for a token good for a few
minutes, and names it as `?access_token=`. The token is signed (the session secret, a salt of
its own), holds only the key's id, opens only the stream and only to read, and is checked
against the key at each use: revoking the key refuses its tokens at once. The access log writes
paths without their query, so the token is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.api.http.problems import Problem
from service.api.security.auth import KeyRequirement, bearer_token
from service.api.security.failed_auth import count_failure, refuse_if_blocked
from service.api.security.rate_limit import enforce_rate_limit
from service.keys.api_keys import ApiKey, Scope
from service.sessions.signed_out import EndedSessions
from service.web.sessions import COOKIE, SessionSigner, may_read, session_key

TOKEN_SECONDS = 300
"""How long a stream token opens the stream: long enough to open it, short if it leaks."""
QUERY = "access_token"
_SALT = "funnel-ledger.stream-token"


@dataclass(frozen=True, slots=True)
class StreamTokens:
    """Issues and checks stream tokens."""

    secret: bytes
    lifetime: timedelta = timedelta(seconds=TOKEN_SECONDS)

    @property
    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt=_SALT)

    def issue(self, key: ApiKey, now: datetime) -> tuple[str, datetime]:
        """A token for `key` and when it expires (never after the key does)."""
        expires = now + self.lifetime
        if key.expires_at is not None:
            expires = min(expires, key.expires_at)
        return self._serializer.dumps({"kid": key.key_id, "scope": Scope.READ.value}), expires

    def key_id(self, token: str) -> str | None:
        """The key id of a genuine, unexpired token, else None."""
        try:
            payload = self._serializer.loads(token, max_age=int(self.lifetime.total_seconds()))
        except BadSignature:  # also an expired one
            return None
        if not isinstance(payload, dict) or payload.get("scope") != Scope.READ.value:
            return None
        key_id = payload.get("kid")
        return key_id if isinstance(key_id, str) else None


def stream_tokens(request: Request) -> StreamTokens:
    """The app's stream tokens, signed with the dashboard sessions' secret."""
    signer: SessionSigner = request.app.state.sessions
    return StreamTokens(signer.secret)


class StreamReader(KeyRequirement):
    """`read` by a bearer key, else by a stream token in the query, else by a dashboard session."""

    def __init__(self) -> None:
        super().__init__(Scope.READ)

    async def __call__(self, request: Request) -> ApiKey:  # type: ignore[override]
        """The key the request reads as, with its rate limit spent."""
        token = request.query_params.get(QUERY)
        if bearer_token(request) is not None or (token is None and COOKIE not in request.cookies):
            return await super().__call__(request)
        key = await (self._by_token(request, token) if token else self._by_session(request))
        if key is None:
            count_failure(request)
            what = "stream token" if token else "dashboard session"
            raise Problem(
                401,
                "unauthenticated",
                f"the {what} is unknown, expired or its key revoked",
                headers={"WWW-Authenticate": 'Bearer realm="funnel-ledger"'},
            )
        enforce_rate_limit(request, key.key_id)
        request.state.api_key = key
        return key

    async def _by_token(self, request: Request, token: str) -> ApiKey | None:
        key_id = stream_tokens(request).key_id(token)
        if key_id is None:
            return None
        refuse_if_blocked(request)
        key = await request.app.state.services.keys.get(key_id)
        return key if may_read(key, datetime.now(UTC)) else None

    async def _by_session(self, request: Request) -> ApiKey | None:
        services = request.app.state.services
        refuse_if_blocked(request)
        signer: SessionSigner = request.app.state.sessions
        ended = EndedSessions(services.engine)
        return await session_key(signer, services.keys, ended, request.cookies.get(COOKIE))

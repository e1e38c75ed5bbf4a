"""Bearer-key authentication and scope checks for every `/v1` route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.problems import Problem
from service.api.ratelimit import enforce_rate_limit
from service.store.keys import ApiKey, KeyStore, Scope

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer fl_…`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="funnel-ledger"'}


def _key_store(request: Request) -> KeyStore:
    store: KeyStore = request.app.state.services.keys
    return store


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that admits only a valid key carrying `scope` (401 without, 403 lacking)."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401,
                "unauthenticated",
                "send an API key as 'Authorization: Bearer <key>'",
                headers=_CHALLENGE,
            )
        key = await _key_store(request).authenticate(credentials.credentials)
        if key is None:
            raise Problem(
                401,
                "unauthenticated",
                "the API key is unknown, revoked or expired",
                headers=_CHALLENGE,
            )
        if not key.allows(scope):
            raise Problem(
                403,
                "forbidden",
                f"this key lacks the '{scope.value}' scope",
                required_scope=scope.value,
            )
        enforce_rate_limit(request, key.key_id)
        request.state.api_key = key
        return key

    dependency.required_scope = scope  # type: ignore[attr-defined]
    return dependency


WriterKey = Annotated[ApiKey, Depends(require(Scope.EVENTS_WRITE))]
ReaderKey = Annotated[ApiKey, Depends(require(Scope.READ))]
AuditorKey = Annotated[ApiKey, Depends(require(Scope.AUDIT))]
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]

"""Bearer-key authentication and scope checks for every `/v1` route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from service.api.http.problems import Problem
from service.api.security.failed_auth import authenticate, count_failure
from service.api.security.rate_limit import enforce_rate_limit
from service.keys.api_keys import ApiKey, Scope

_DESCRIPTION = "An API key: `Authorization: Bearer fl_…`"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="funnel-ledger"'}
_CHECKED = "funnel_ledger.api_key"
"""Where a request keeps the key already checked (before its body was read): not twice."""


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if the request has one."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if not token or scheme.lower() != "bearer":
        return None
    return token


class KeyRequirement(HTTPBearer):
    """A dependency admitting only a valid key carrying `scope` (401 without, 403 lacking).

    It is also the OpenAPI security scheme (`HTTPBearer`) of the routes that declare it. One
    dependency rather than a scheme plus a check: FastAPI resolves every dependency of a route
    on every request, and each one costs the ingestion path a few per cent of its CPU.
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=_DESCRIPTION)
        self.required_scope = scope

    async def __call__(self, request: Request) -> ApiKey:  # type: ignore[override]
        """The request's key, checked, with its rate limit spent."""
        checked: ApiKey | None = request.scope.get(_CHECKED)
        if checked is not None and checked.allows(self.required_scope):
            return checked
        token = bearer_token(request)
        if token is None:
            count_failure(request)
            raise Problem(
                401,
                "unauthenticated",
                "send an API key as 'Authorization: Bearer <key>'",
                headers=_CHALLENGE,
            )
        key = await authenticate(request, token)
        if key is None:
            count_failure(request)
            raise Problem(
                401,
                "unauthenticated",
                "the API key is unknown, revoked or expired",
                headers=_CHALLENGE,
            )
        if not key.allows(self.required_scope):
            raise Problem(
                403,
                "forbidden",
                f"this key lacks the '{self.required_scope.value}' scope",
                required_scope=self.required_scope.value,
            )
        enforce_rate_limit(request, key.key_id)
        request.state.api_key = key
        request.scope[_CHECKED] = key
        return key


WriterKey = Annotated[ApiKey, Depends(KeyRequirement(Scope.EVENTS_WRITE))]
ReaderKey = Annotated[ApiKey, Depends(KeyRequirement(Scope.READ))]
AuditorKey = Annotated[ApiKey, Depends(KeyRequirement(Scope.AUDIT))]
AdminKey = Annotated[ApiKey, Depends(KeyRequirement(Scope.ADMIN))]

"""Requests that fail authentication: cheap, and limited per client before any database work.

Each client (its address; an IPv6 client by its /64 network, which one host usually holds
whole) has a token bucket of authentication failures in this process's memory. Every failure
(a `401`) spends one token; once the bucket is empty, the `401` becomes `429` with
`Retry-After`, and whatever would cost more than memory to judge (a key id not seen lately, a
webhook body to read and verify) is refused with `429` before it is looked up or read. A key
whose id the process has found before is still judged, so a client behind the same address as
an attacker keeps its service. Nothing here runs for a request that authenticates.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from fastapi import Request
from starlette.types import Scope

from service.api.http.problems import Problem
from service.api.security.rate_limit import RateLimiter, too_many
from service.keys.api_keys import ApiKey, KeyStore, Recall
from service.settings import Settings


class ClientFailures(RateLimiter):
    """Admits `burst` failed authentications at once per client, refilled at `rate` per second."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientFailures:
        """The limits the settings ask for."""
        return cls(settings.auth_failures_per_second, settings.auth_failures_burst)

    def fail(self, client: str) -> float:
        """Spend one failure of `client`: 0 if within its budget, else the seconds to wait."""
        return self.take(client)


def client_of(scope: Scope) -> str:
    """Who sent the request: the peer address (as the server gives it, behind a trusted proxy
    the forwarded one); an IPv6 address by its /64 network."""
    client = scope.get("client")
    host = str(client[0]) if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _failures(request: Request) -> ClientFailures:
    failures: ClientFailures = request.app.state.auth_failures
    return failures


def _too_many(wait: float) -> Problem:
    return too_many("too-many-failures", "this client failed authentication too often", wait)


def count_failure(request: Request) -> None:
    """Spend one failure of the request's client (it failed authentication); when none was
    left, answer 429 instead of the 401."""
    wait = _failures(request).fail(client_of(request.scope))
    if wait > 0:
        raise _too_many(wait)


def refuse_if_blocked(request: Request) -> None:
    """429 if the request's client has no failure left to spend (call before costly work)."""
    wait = _failures(request).wait(client_of(request.scope))
    if wait > 0:
        raise _too_many(wait)


async def authenticate(request: Request, token: str) -> ApiKey | None:
    """The usable key for `token`, judged from memory when it can be; a key id not seen lately
    is looked up only while the client has failures left to spend."""
    store: KeyStore = request.app.state.services.keys
    now = datetime.now(UTC)
    recalled = store.recall(token, now)
    if not isinstance(recalled, Recall):
        return recalled
    if recalled is Recall.STRANGER:
        refuse_if_blocked(request)
    return await store.authenticate(token, now)

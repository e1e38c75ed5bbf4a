"""Every route of the app has a declared guard, so that none is ever open by accident.

A new route fails `test_every_route_has_its_declared_guard` until it is added to `EXPECTED`.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from service.api.app import create_app
from service.settings import Settings
from tests.conftest import bearer, make_settings
from tests.webhooks import SECRETS, write_config

pytestmark = pytest.mark.e2e

PUBLIC = "public"  # reveals no ledger data
VENDOR = "vendor"  # a webhook receiver: the vendor's signature, credentials or token
SESSION = "session"  # the dashboard: a signed session made from a read key

EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,  # the status alone; the detail with a `metrics` key
    ("GET", "/metrics"): "metrics",
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("*", "/static"): PUBLIC,
    ("GET", "/"): SESSION,
    ("GET", "/scoreboard.csv"): SESSION,
    ("GET", "/reps/{rep_id:path}"): SESSION,
    ("POST", "/webhooks/hubspot"): VENDOR,
    ("POST", "/webhooks/pipedrive"): VENDOR,
    ("POST", "/webhooks/aircall"): VENDOR,
    ("POST", "/webhooks/salesforce"): VENDOR,
    ("POST", "/webhooks/standard/{sender}"): VENDOR,
    ("POST", "/v1/events"): "events:write",
    ("POST", "/v1/events/batch"): "events:write",
    ("GET", "/v1/events"): "read",
    ("GET", "/v1/events/stream"): "read",
    ("POST", "/v1/events/stream/tokens"): "read",
    ("GET", "/v1/deals"): "read",
    ("GET", "/v1/deals/{deal_id}"): "read",
    ("GET", "/v1/deals/{deal_id}/events"): "read",
    ("GET", "/v1/scoreboard"): "read",
    ("GET", "/v1/scoreboard.csv"): "read",
    ("GET", "/v1/scoreboard/series"): "read",
    ("GET", "/v1/funnel"): "read",
    ("GET", "/v1/accounts"): "read",
    ("GET", "/v1/accounts/{key:path}"): "read",
    ("GET", "/v1/targets"): "read",
    ("GET", "/v1/calendar"): "read",
    ("GET", "/v1/analytics/stage-times"): "read",
    ("GET", "/v1/analytics/conversion"): "read",
    ("GET", "/v1/analytics/win-rate"): "read",
    ("GET", "/v1/analytics/waterfall"): "read",
    ("GET", "/v1/exports/deals"): "read",
    ("GET", "/v1/exports/facts"): "read",
    ("GET", "/v1/audit/verify"): "audit",
    ("GET", "/v1/audit/replay"): "audit",
    ("GET", "/v1/audit/export"): "audit",
    ("GET", "/v1/audit/requests"): "audit",
    ("GET", "/v1/admin/projection"): "admin",
    ("POST", "/v1/admin/rebuild"): "admin",
    ("GET", "/v1/admin/keys"): "admin",
    ("POST", "/v1/admin/keys"): "admin",
    ("GET", "/v1/admin/keys/{key_id}"): "admin",
    ("POST", "/v1/admin/keys/{key_id}/rotate"): "admin",
    ("POST", "/v1/admin/keys/{key_id}/revoke"): "admin",
    ("GET", "/v1/admin/webhooks/inbox"): "admin",
    ("POST", "/v1/admin/webhooks/inbox/replay"): "admin",
    ("POST", "/v1/admin/webhooks/inbox/{item_id}/replay"): "admin",
}
GUARDS = (PUBLIC, VENDOR, SESSION)
SAMPLE_PATH_VALUES = {"deal_id": "D-1", "key_id": "0123456789abcdef", "sender": "erp"}


def _scopes(dependant: Dependant | None) -> set[str]:
    if dependant is None:
        return set()
    found = {scope.value} if (scope := getattr(dependant.call, "required_scope", None)) else set()
    for child in dependant.dependencies:
        found |= _scopes(child)
    return found


def routes_of(app: FastAPI) -> dict[tuple[str, str], set[str]]:
    """Every (method, path) the app answers, with the bearer scopes its dependencies require."""
    found: dict[tuple[str, str], set[str]] = {}
    for route in iter_route_contexts(app.routes):
        for method in sorted(set(route.methods or {"*"}) - {"HEAD"}):
            found[(method, str(route.path))] = _scopes(getattr(route, "dependant", None))
    return found


def test_every_route_has_its_declared_guard():
    actual = routes_of(create_app(Settings()))
    missing = sorted(set(actual) - set(EXPECTED))
    assert not missing, f"routes without an entry in EXPECTED (add each with its scope): {missing}"
    assert not sorted(set(EXPECTED) - set(actual)), "EXPECTED names routes the app no longer has"
    for route, scopes in actual.items():
        wanted = EXPECTED[route]
        if wanted in GUARDS:
            assert scopes == set(), f"{route} is {wanted} but requires a bearer scope {scopes}"
        else:
            assert scopes == {wanted}, f"{route} requires {scopes}, not {{'{wanted}'}}"


def _url(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLE_PATH_VALUES.get(m.group(1), "x"), path)


def _other_scope(scope: str) -> str:
    return next(s for s in ("read", "events:write", "audit") if s != scope)


async def test_every_v1_route_answers_401_without_key_and_403_with_another_scope(client, tokens):
    for (method, path), scope in EXPECTED.items():
        if scope in GUARDS:
            continue
        url = _url(path)
        body: dict[str, object] | None = {} if method == "POST" else None
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["content-type"] == "application/problem+json", (method, path)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.json()["status"] == 401
        wrong = await client.request(
            method, url, json=body, headers=bearer(tokens[_other_scope(scope)])
        )
        assert wrong.status_code == 403, (method, path)
        assert wrong.headers["content-type"] == "application/problem+json", (method, path)
        assert wrong.json()["required_scope"] == scope


async def test_webhook_receivers_refuse_deliveries_without_vendor_proof(
    database_url, tmp_path: Path, monkeypatch
):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = make_settings(database_url, FUNNEL_WEBHOOKS_CONFIG=str(write_config(tmp_path)))
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for (method, path), guard in EXPECTED.items():
                if guard == VENDOR:
                    response = await http.request(method, _url(path), json=[{"token": "nope"}])
                    assert response.status_code == 401, path
                    assert response.headers["content-type"] == "application/problem+json"
            assert await application.state.services.reader.head() == 0

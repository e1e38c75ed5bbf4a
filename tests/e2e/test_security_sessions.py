"""Sessions and proxies: same-origin forms, server-side sign-out, the public URL, HubSpot's URL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import ValidationError

from service.api.app import create_app
from service.settings import Settings
from service.webhooks.config import load_webhook_config
from service.webhooks.signatures import hubspot_v3_signature
from tests.conftest import make_settings
from tests.e2e.served import serve
from tests.e2e.test_route_scopes import routes_of
from tests.webhooks import CONFIG, HUBSPOT_SECRET, PUBLIC_BASE, SECRETS

pytestmark = pytest.mark.e2e

HERE = "http://testserver"
SECRET = "a-session-secret-shared-by-every-worker"


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a new app for `settings`, its lifespan running."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=HERE) as http:
            yield http


async def _sign_in(client: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    return await client.post("/login", data={"key": token}, headers=headers)


# --- State-changing dashboard requests come from this site -------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "http://testserver:8080"},
        {"Origin": "https://testserver"},
        {"Referer": "https://evil.example/page"},
        {"Referer": "not a url"},
        {},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "neither",
)
async def test_sign_in_is_refused_unless_origin_or_referer_names_this_site(client, tokens, headers):
    response = await _sign_in(client, tokens["read"], **headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert 'id="signin-error"' in response.text
    assert (await client.get("/")).status_code == 303


async def test_origin_wins_over_a_same_site_referer(client, tokens):
    response = await _sign_in(
        client, tokens["read"], Origin="https://evil.example", Referer=f"{HERE}/login"
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{"Origin": HERE}, {"Origin": "HTTP://TESTSERVER:80"}, {"Referer": f"{HERE}/login?next=/"}],
)
async def test_sign_in_from_this_site_by_origin_or_referer_is_accepted(client, tokens, headers):
    response = await _sign_in(client, tokens["read"], **headers)
    assert response.status_code == 303
    assert response.headers["set-cookie"].startswith("fl_session=")


async def test_a_cross_site_sign_out_does_not_end_the_session(client, tokens):
    await _sign_in(client, tokens["read"], Origin=HERE)
    for headers in ({"Origin": "https://evil.example"}, {}):
        response = await client.post("/logout", headers=headers)
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
    assert (await client.get("/")).status_code == 200


async def test_every_state_changing_dashboard_route_refuses_a_cross_site_request(app, client):
    # Every route outside /v1 and the vendor receivers that takes more than GET
    unsafe = [
        (method, path)
        for method, path in routes_of(app)
        if method not in {"GET", "HEAD", "*"} and not path.startswith(("/v1/", "/webhooks/"))
    ]
    assert ("POST", "/login") in unsafe and ("POST", "/logout") in unsafe
    for method, path in unsafe:
        response = await client.request(method, path, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, (method, path)


async def test_with_a_public_url_the_origin_must_be_that_url(database_url, tokens):
    settings = make_settings(database_url, FUNNEL_PUBLIC_URL="https://ledger.example.com/")
    async with running(settings) as http:
        # The request's own host is not this site's public name
        assert (await _sign_in(http, tokens["read"], Origin=HERE)).status_code == 403
        response = await _sign_in(http, tokens["read"], Origin="https://ledger.example.com")
        assert response.status_code == 303


# --- Signing out ends the session on the server ---------------------------------------------


async def test_a_cookie_copied_before_sign_out_is_refused_after_it(client, tokens):
    # Given a session, and a copy of its cookie
    await _sign_in(client, tokens["read"], Origin=HERE)
    copied = client.cookies["fl_session"]
    # When the user signs out
    response = await client.post("/logout", headers={"Origin": HERE})
    assert response.status_code == 303
    # Then the copy no longer opens the dashboard
    client.cookies.set("fl_session", copied)
    assert (await client.get("/")).status_code == 303
    assert (await client.get("/login")).status_code == 200  # not "already signed in"


async def test_sign_out_holds_for_every_worker(database_url, tokens):
    # Given two workers on one database and one session secret
    settings = make_settings(database_url, FUNNEL_SESSION_SECRET=SECRET)
    async with running(settings) as first, running(settings) as second:
        await _sign_in(first, tokens["read"], Origin=HERE)
        cookie = first.cookies["fl_session"]
        second.cookies.set("fl_session", cookie)
        assert (await second.get("/")).status_code == 200
        # When the session is ended on the second worker
        assert (await second.post("/logout", headers={"Origin": HERE})).status_code == 303
        # Then the first refuses it too, and another session of the same key still works
        assert (await first.get("/")).status_code == 303
        first.cookies.clear()
        await _sign_in(first, tokens["read"], Origin=HERE)
        assert (await first.get("/")).status_code == 200


async def test_a_cookie_without_a_session_id_is_no_session(database_url, app, tokens):
    # A cookie as signed before sessions could be ended: genuine, but not endable
    settings = make_settings(database_url, FUNNEL_SESSION_SECRET=SECRET)
    key = (await app.state.services.keys.list())[0]
    old = URLSafeTimedSerializer(SECRET.encode(), salt="funnel-ledger.dashboard-session")
    async with running(settings) as http:
        http.cookies.set("fl_session", old.dumps({"kid": key.key_id, "nonce": "00ff00ff"}))
        assert (await http.get("/")).status_code == 303


# --- The public URL: Secure cookies and HSTS -----------------------------------------------


async def test_an_https_public_url_makes_cookies_secure_and_sends_hsts(database_url, tokens):
    settings = make_settings(database_url, FUNNEL_PUBLIC_URL="https://ledger.example.com")
    async with running(settings) as http:
        # Even when the proxy's hop arrives as plain http (no trusted X-Forwarded-Proto)
        response = await _sign_in(http, tokens["read"], Origin="https://ledger.example.com")
        assert "Secure" in response.headers["set-cookie"]
        language = await http.get("/login?lang=en")
        assert "Secure" in language.headers["set-cookie"]
        logout = await http.post("/logout", headers={"Origin": "https://ledger.example.com"})
        assert "Secure" in logout.headers["set-cookie"]
        for answer in (
            response,
            language,
            await http.get("/healthz"),
            await http.get("/v1/funnel"),  # a 401
            await http.get("/static/none.css"),  # a 404
        ):
            assert answer.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize("public_url", [None, "http://ledger.example.com"])
async def test_over_plain_http_cookies_are_not_secure_and_no_hsts(database_url, tokens, public_url):
    overrides = {"FUNNEL_PUBLIC_URL": public_url} if public_url else {}
    origin = public_url or HERE
    async with running(make_settings(database_url, **overrides)) as http:
        response = await _sign_in(http, tokens["read"], Origin=origin)
        assert response.status_code == 303
        assert "Secure" not in response.headers["set-cookie"]
        assert "strict-transport-security" not in response.headers
        assert "strict-transport-security" not in (await http.get("/healthz")).headers


@pytest.mark.parametrize(
    "value",
    [
        "ledger.example.com",
        "ftp://ledger.example.com",
        "https://",
        "https://ledger.example.com/app",
        "https://ledger.example.com/?x=1",
        "https://user@ledger.example.com",
    ],
)
def test_a_public_url_that_is_not_an_origin_is_refused(value):
    with pytest.raises(ValidationError, match="public URL"):
        Settings.model_validate({"FUNNEL_PUBLIC_URL": value})


async def test_serve_trusts_forwarded_headers_only_from_the_configured_proxies(
    database_url, monkeypatch
):
    # Given a proxy at 10.9.9.9, configured; the test calls from 127.0.0.1, which is no proxy
    monkeypatch.setenv("FUNNEL_FORWARDED_ALLOW_IPS", "10.9.9.9")
    async with serve(database_url) as served, httpx.AsyncClient(base_url=served.base) as http:
        response = await http.post(
            "/login",
            data={"key": served.admin_key},
            headers={"X-Forwarded-Proto": "https", "Origin": served.base},
        )
    # Then its claim to have come over https is not believed: the cookie is not Secure (with
    # uvicorn's default, 127.0.0.1 is trusted and it would be)
    assert response.status_code == 303
    assert "Secure" not in response.headers["set-cookie"]


# --- HubSpot signs a URL the service must know ---------------------------------------------

_NO_BASE = CONFIG.replace("public_base_url: https://ledger.example.com\n", "")


def _config_without_base(directory: Path) -> Path:
    assert "public_base_url" not in _NO_BASE
    path = directory / "webhooks.yaml"
    path.write_text(_NO_BASE, encoding="utf-8")
    return path


def test_hubspot_without_a_public_url_is_refused_at_start(tmp_path: Path):
    with pytest.raises(ValidationError, match="public_base_url"):
        load_webhook_config(_config_without_base(tmp_path), SECRETS)
    fallback = load_webhook_config(_config_without_base(tmp_path), SECRETS, public_url=PUBLIC_BASE)
    assert fallback.public_base_url == PUBLIC_BASE


async def test_hubspot_signatures_are_checked_against_the_public_url_not_the_host(
    database_url, tmp_path: Path, monkeypatch
):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = make_settings(
        database_url,
        FUNNEL_WEBHOOKS_CONFIG=str(_config_without_base(tmp_path)),
        FUNNEL_PUBLIC_URL=PUBLIC_BASE,
    )
    body = orjson.dumps(
        [
            {
                "eventId": 1,
                "subscriptionType": "deal.propertyChange",
                "portalId": 62515,
                "objectId": 9001,
                "propertyName": "dealstage",
                "propertyValue": "unmapped-stage",
                "occurredAt": 1767225600000,
            }
        ]
    )

    def signed_for(base: str) -> dict[str, str]:
        stamp = str(int(time.time() * 1000))
        uri = f"{base}/webhooks/hubspot"
        return {
            "Content-Type": "application/json",
            "X-HubSpot-Request-Timestamp": stamp,
            "X-HubSpot-Signature-v3": hubspot_v3_signature(
                HUBSPOT_SECRET, "POST", uri, body, stamp
            ),
        }

    async with running(settings) as http:
        # Signed for the request's own Host, as an attacker choosing the Host could: refused
        forged = await http.post("/webhooks/hubspot", content=body, headers=signed_for(HERE))
        assert forged.status_code == 401
        # Signed for the public URL, as HubSpot does: accepted
        genuine = await http.post(
            "/webhooks/hubspot", content=body, headers=signed_for(PUBLIC_BASE)
        )
        assert genuine.status_code in (200, 201, 202), genuine.text

"""Bodies are bounded before anything reads them, on every route, authenticated or not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from service.api.app import ADMIN_BODY_BYTES
from service.api.middleware.body_limit import BodyLimit, BodyTooLarge
from service.keys.api_keys import Scope as KeyScope
from service.web.routes import MAX_FORM_BYTES
from tests.conftest import bearer
from tests.e2e.test_limits import running
from tests.e2e.test_route_scopes import EXPECTED
from tests.webhooks import SECRETS, write_config

pytestmark = pytest.mark.e2e

LIMIT = 4096
"""FUNNEL_MAX_BODY_BYTES in these tests."""
CHUNK = 1024


class Trickle:
    """A body sent in chunks without a Content-Length, counting how much the app pulled."""

    def __init__(self, chunks: int, chunk: bytes = b"x" * CHUNK) -> None:
        self.chunks, self.chunk, self.pulled = chunks, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield self.chunk


def _assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/payload-too-large")
    assert response.json()["limit_bytes"] == limit


def _url(path: str) -> str:
    return re.sub(r"{\w+}", lambda m: {"{key_id}": "0123456789abcdef"}.get(m.group(0), "x"), path)


async def test_a_declared_oversize_body_is_refused_on_every_route_before_its_handler(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = str(write_config(tmp_path))
    async for application, http in running(
        database_url, FUNNEL_MAX_BODY_BYTES=LIMIT, FUNNEL_WEBHOOKS_CONFIG=config
    ):
        token = await application.state.services.keys.create("a", frozenset({KeyScope.ADMIN}))
        for method, path in EXPECTED:
            for headers in ({}, bearer(token.token)):
                url = "/static/app.css" if path == "/static" else _url(path)
                limit = MAX_FORM_BYTES if path == "/login" else LIMIT
                limit = ADMIN_BODY_BYTES if path.startswith("/v1/admin/") else limit
                limit = min(limit, LIMIT)
                verb = "POST" if method == "*" else method
                response = await http.request(
                    verb, url, content=b"x" * (limit + 1), headers=headers
                )
                _assert_too_large(response, limit)
                assert response.headers["connection"] == "close"
        # Nothing of it was stored anywhere.
        assert await application.state.services.reader.head() == 0


async def test_the_sign_in_form_is_cut_at_8_kib_while_it_streams_in(client: httpx.AsyncClient):
    # The form comes from this site: the origin check passes, the body limit is what refuses.
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://testserver"}
    # Given a body of 300 chunks of 1 KiB without a Content-Length
    trickle = Trickle(300, b"key=" + b"a" * (CHUNK - 4))
    # When it is posted to the sign-in form
    response = await client.post("/login", content=trickle, headers=form)
    # Then it is refused once past 8 KiB, the rest never read
    _assert_too_large(response, MAX_FORM_BYTES)
    assert trickle.pulled <= MAX_FORM_BYTES // CHUNK + 1
    # And a declared one past 8 KiB is refused before a byte of it is read
    declared = await client.post("/login", content=b"key=" + b"a" * MAX_FORM_BYTES, headers=form)
    _assert_too_large(declared, MAX_FORM_BYTES)


async def test_a_streamed_event_body_is_cut_at_the_limit(database_url: str) -> None:
    async for application, http in running(database_url, FUNNEL_MAX_BODY_BYTES=LIMIT):
        token = await application.state.services.keys.create(
            "w", frozenset({KeyScope.EVENTS_WRITE})
        )
        trickle = Trickle(1000)
        headers = {**bearer(token.token), "Content-Type": "application/json"}
        response = await http.post("/v1/events", content=trickle, headers=headers)
        _assert_too_large(response, LIMIT)
        assert trickle.pulled <= LIMIT // CHUNK + 1
        assert await application.state.services.reader.head() == 0


@pytest.mark.parametrize("path", ["/v1/admin/keys", "/v1/admin/keys/0123456789abcdef/rotate"])
async def test_admin_routes_check_the_key_before_reading_the_body(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str
) -> None:
    json = {"Content-Type": "application/json"}
    # Without a key: 401, and not one byte of the (not even JSON) body was read
    trickle = Trickle(3, b"not json at all")
    anonymous = await client.post(path, content=trickle, headers=json)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert trickle.pulled == 0
    assert (await client.post(path, content=b"[1, 2", headers=json)).status_code == 401
    # With a key lacking the scope: 403, the body still unread
    trickle = Trickle(3, b"not json at all")
    reader = {**json, **bearer(tokens["read"])}
    assert (await client.post(path, content=trickle, headers=reader)).status_code == 403
    assert trickle.pulled == 0
    # With the admin key the body is read, checked and refused as usual
    admin = {**json, **bearer(tokens["admin"])}
    invalid = await client.post(path, content=b"[1, 2", headers=admin)
    assert invalid.status_code == 422
    # And past its small limit, refused while streaming even for the admin
    trickle = Trickle(64)
    _assert_too_large(await client.post(path, content=trickle, headers=admin), ADMIN_BODY_BYTES)
    assert trickle.pulled <= ADMIN_BODY_BYTES // CHUNK + 1


async def test_an_admin_key_is_still_created_and_its_rate_limit_spent_once(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    limiter = app.state.rate_limiter
    admin_id = tokens["admin"].split("_")[1]
    created = await client.post(
        "/v1/admin/keys", json={"name": "crm", "scopes": ["read"]}, headers=bearer(tokens["admin"])
    )
    assert created.status_code == 201
    bucket = limiter._buckets[admin_id]
    # One request spent one token of the burst, not two (the key checked once, before the body)
    assert app.state.settings.rate_limit_burst - bucket.tokens == pytest.approx(1, abs=0.01)


async def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Message:
    """One raw ASGI request (headers exactly as given); the response's start message."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    start["body"] = b"".join(m.get("body", b"") for m in sent[1:])
    return start


@pytest.mark.parametrize("value", ["²", "1²", "+5", " 5", "5 ", "-1", "0x10", "5e3", ""])
async def test_a_content_length_not_in_ascii_digits_is_400_not_500(
    app: FastAPI, tokens: dict[str, str], value: str
) -> None:
    headers = [
        (b"authorization", f"Bearer {tokens['events:write']}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", value.encode()),
    ]
    for path in ("/v1/events", "/login", "/v1/admin/keys"):
        start = await _call(app, path, headers, b"{}")
        assert start["status"] == 400, (path, value)
        assert (b"content-type", b"application/problem+json") in start["headers"]
        assert b"/invalid-content-length" in start["body"]


async def test_the_limit_is_applied_before_the_application_is_called() -> None:
    called: list[str] = []

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope["path"])
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = BodyLimit(handler, default=100, limits=[("/small", 10)])
    huge = [(b"content-length", b"9" * 40)]
    assert (await _call(guarded, "/any", huge, b""))["status"] == 413
    eleven = [(b"content-length", b"11")]
    assert (await _call(guarded, "/small", eleven, b"x" * 11))["status"] == 413
    assert called == []
    # Within the limit the application runs
    ten = [(b"content-length", b"10")]
    assert (await _call(guarded, "/small", ten, b"x" * 10))["status"] == 204
    # A body without a length (or a lying one) is counted as it streams in, and whatever
    # reads past the limit is stopped there (the app's exception handler answers 413)
    with pytest.raises(BodyTooLarge):
        await _call(guarded, "/any", [], b"x" * 101)
    with pytest.raises(BodyTooLarge):
        await _call(guarded, "/small", [(b"content-length", b"1")], b"x" * 11)
    assert called == ["/small", "/any", "/small"]

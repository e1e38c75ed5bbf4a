"""401 versus 403 on every kind of /v1 route, as problem+json."""

from __future__ import annotations

import pytest

from service.keys.api_keys import Scope
from tests.conftest import bearer

pytestmark = pytest.mark.e2e


async def test_no_key_is_401(client):
    response = await client.get("/v1/events")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_or_malformed_key_is_401(client, tokens):
    for token in ("nope", "fl_0000000000000000_" + "0" * 48, tokens["read"] + "x"):
        assert (await client.get("/v1/events", headers=bearer(token))).status_code == 401


async def test_key_lacking_the_scope_is_403(client, tokens):
    response = await client.post("/v1/events", json={}, headers=bearer(tokens["read"]))
    assert response.status_code == 403
    assert response.json()["required_scope"] == "events:write"
    assert (
        await client.get("/v1/events", headers=bearer(tokens["events:write"]))
    ).status_code == 403


async def test_admin_key_may_do_everything(client, tokens):
    assert (await client.get("/v1/events", headers=bearer(tokens["admin"]))).status_code == 200


async def test_revoked_key_is_401(app, client):
    keys = app.state.services.keys
    issued = await keys.create("temp", frozenset({Scope.READ}))
    assert (await client.get("/v1/events", headers=bearer(issued.token))).status_code == 200
    assert await keys.revoke(issued.key.key_id)
    assert (await client.get("/v1/events", headers=bearer(issued.token))).status_code == 401

"""The API key lifecycle over HTTP and the CLI: list, create, rotate with overlap, revoke, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from service.cli import app as cli
from service.keys.api_keys import Scope
from tests.conftest import bearer

pytestmark = pytest.mark.e2e


async def create(client, admin: str, **body):
    payload = {"name": "bi-tool", "scopes": ["read"]} | body
    return await client.post("/v1/admin/keys", json=payload, headers=bearer(admin))


async def status(client, token: str) -> int:
    response = await client.get("/v1/events", headers=bearer(token))
    return int(response.status_code)


async def test_create_list_and_last_used(client, tokens):
    response = await create(client, tokens["admin"])
    assert response.status_code == 201
    issued = response.json()
    assert issued["token"].startswith("fl_") and issued["key"]["status"] == "active"
    assert await status(client, issued["token"]) == 200
    listed = (await client.get("/v1/admin/keys", headers=bearer(tokens["admin"]))).json()["keys"]
    mine = next(k for k in listed if k["key_id"] == issued["key"]["key_id"])
    assert mine["last_used_at"] is not None and mine["scopes"] == ["read"]
    assert all("token" not in k and "secret" not in str(k) for k in listed)


async def test_rotation_keeps_both_keys_valid_during_the_overlap(client, tokens):
    old = (await create(client, tokens["admin"])).json()
    key_id = old["key"]["key_id"]
    response = await client.post(
        f"/v1/admin/keys/{key_id}/rotate", json={"overlap": "1h"}, headers=bearer(tokens["admin"])
    )
    assert response.status_code == 201
    rotation = response.json()
    assert rotation["old"]["status"] == "rotating"
    assert rotation["old"]["replaced_by"] == rotation["new"]["key_id"]
    deadline = datetime.fromisoformat(rotation["old"]["expires_at"])
    assert timedelta(minutes=59) < deadline - datetime.now(UTC) <= timedelta(hours=1)
    assert rotation["new"]["name"] == "bi-tool" and rotation["new"]["scopes"] == ["read"]
    assert await status(client, old["token"]) == 200
    assert await status(client, rotation["token"]) == 200
    # A rotated key cannot be rotated again
    again = await client.post(f"/v1/admin/keys/{key_id}/rotate", headers=bearer(tokens["admin"]))
    assert again.status_code == 409


async def test_rotation_without_overlap_retires_the_old_key_at_once(client, tokens):
    old = (await create(client, tokens["admin"])).json()
    response = await client.post(
        f"/v1/admin/keys/{old['key']['key_id']}/rotate",
        json={"overlap": "0s"},
        headers=bearer(tokens["admin"]),
    )
    assert await status(client, old["token"]) == 401
    assert await status(client, response.json()["token"]) == 200


async def test_revoke_is_immediate_and_idempotent(client, tokens):
    issued = (await create(client, tokens["admin"])).json()
    url = f"/v1/admin/keys/{issued['key']['key_id']}/revoke"
    first = await client.post(url, headers=bearer(tokens["admin"]))
    second = await client.post(url, headers=bearer(tokens["admin"]))
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == "revoked" and first.json() == second.json()
    assert await status(client, issued["token"]) == 401
    unknown = await client.post(
        "/v1/admin/keys/0123456789abcdef/revoke", headers=bearer(tokens["admin"])
    )
    assert unknown.status_code == 404


async def test_expiry(app, client, tokens):
    past = await create(client, tokens["admin"], expires_at="2020-01-01T00:00:00Z")
    assert past.status_code == 422
    keys = app.state.services.keys
    expired = await keys.create(
        "old", frozenset({Scope.READ}), datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await status(client, expired.token) == 401
    one = await client.get(f"/v1/admin/keys/{expired.key.key_id}", headers=bearer(tokens["admin"]))
    assert one.json()["status"] == "expired"


def test_cli_rotate_prints_the_new_token_last(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--name", "pbx", "--scopes", "events:write"])
    assert created.exit_code == 0, created.output
    old_token = created.stdout.strip().splitlines()[-1]
    key_id = old_token.split("_")[1]
    rotated = runner.invoke(cli, ["keys", "rotate", key_id, "--overlap", "24h"])
    assert rotated.exit_code == 0, rotated.output
    new_token = rotated.stdout.strip().splitlines()[-1]
    assert new_token.startswith("fl_") and new_token != old_token
    listed = runner.invoke(cli, ["keys", "list", "--json"])
    assert f'"replaced_by": "{new_token.split("_")[1]}"' in listed.stdout
    bad = runner.invoke(cli, ["keys", "rotate", key_id, "--overlap", "soon"])
    assert bad.exit_code != 0

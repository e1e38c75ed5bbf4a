"""Instants out of range or not RFC 3339 are refused at every input, with a 422 naming the field.

The range is 1900-01-01T00:00:00Z (included) to 2200-01-01T00:00:00Z (excluded); nothing
outside it reaches PostgreSQL, where year 1 would be stored as `-infinity` and read back naive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app as cli
from tests.conftest import bearer, make_settings
from tests.factories import sourced, visit
from tests.webhooks import SECRETS, dumps, events_of, inbox_of, standard_headers, write_config

pytestmark = pytest.mark.e2e

OUT_OF_RANGE = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1899-12-31T23:59:59.999999Z",
    "1900-01-01T08:00:00+08:01",
    "9999-12-31T23:59:59.999999Z",
]
NOT_RFC_3339 = [
    "2026-W01-1T00:00:00Z",
    "20260112T100000Z",
    "2026-012T10:00:00Z",
    "2026-01-12T10:00Z",
    "2026-01-12T10:00:00+0800",
    "2026-01-12T10:00:00",
    "2026-01-12 10:00:00Z",
    "\u0662\u0660\u0662\u0666-01-12T10:00:00Z",
    "2026-01-12T10:00:00Z\n",
]


async def post_events(client: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    return await client.post("/v1/events", json=body, headers=bearer(token))


async def stored(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/v1/events", params={"limit": 1000}, headers=bearer(token))
    assert response.status_code == 200
    return len(response.json()["events"])


def pointers(response: httpx.Response) -> set[str]:
    return {error["pointer"] for error in response.json().get("errors", [])}


# --- event time -------------------------------------------------------------------------------


@pytest.mark.parametrize("time", OUT_OF_RANGE + NOT_RFC_3339)
async def test_an_event_time_out_of_range_or_not_rfc_3339_is_422_naming_it(
    client: httpx.AsyncClient, tokens: dict[str, str], time: str
) -> None:
    response = await post_events(client, tokens["events:write"], [visit("D-1", "R-1", time)])
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "/time"
    assert await stored(client, tokens["read"]) == 0


@pytest.mark.parametrize(
    ("time", "shown"),
    [
        ("1900-01-01T00:00:00Z", "1900-01-01T00:00:00+00:00"),
        ("2026-01-12t10:00:00z", "2026-01-12T10:00:00+00:00"),
        ("2026-01-12T10:00:00.123456789-00:00", "2026-01-12T10:00:00.123456+00:00"),
        ("1900-01-01T07:59:59+08:00", None),
    ],
)
async def test_an_event_time_at_the_edges_of_the_shapes_and_range(
    client: httpx.AsyncClient, tokens: dict[str, str], time: str, shown: str | None
) -> None:
    response = await post_events(client, tokens["events:write"], [visit("D-1", "R-1", time)])
    if shown is None:  # a second before 1900 in UTC
        assert response.status_code == 422
        return
    assert response.status_code == 201, response.text
    feed = await client.get("/v1/events", headers=bearer(tokens["read"]))
    assert feed.json()["events"][0]["time"] == shown


async def test_a_binary_mode_time_out_of_range_is_422(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    headers = {
        **bearer(tokens["events:write"]),
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "pbx-1",
        "ce-source": "pbx",
        "ce-type": "call.logged",
        "ce-subject": "D-9",
        "ce-time": "0001-01-01T00:00:00%2B14:00",
    }
    data = {"rep_id": "R-2", "direction": "outbound", "duration_s": 120}
    response = await client.post("/v1/events", content=orjson.dumps(data), headers=headers)
    assert response.status_code == 422, response.text
    assert "/time" in pointers(response)


async def test_one_bad_time_in_a_batch_stores_nothing(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    batch = [sourced("D-1", "R-1", "2026-01-05T00:00:00Z"), visit("D-1", "R-1", "0001-01-01")]
    response = await post_events(client, tokens["events:write"], batch)
    assert response.status_code == 422
    assert response.json()["errors"][0]["index"] == 1
    assert await stored(client, tokens["read"]) == 0


@pytest.fixture
async def webhook_app(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """The app with the test webhook mapping and its secrets."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = make_settings(database_url, FUNNEL_WEBHOOKS_CONFIG=str(write_config(tmp_path)))
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_a_signed_standard_webhook_with_a_year_1_time_stores_nothing(
    webhook_app: FastAPI,
) -> None:
    keys = webhook_app.state.services.keys
    admin = (await keys.create("admin", frozenset({"admin"}))).token
    body = dumps([sourced("D-9", "R-03", "0001-01-01T00:00:00Z", id="erp-1", source="erp")])
    transport = httpx.ASGITransport(app=webhook_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(
            "/webhooks/standard/erp", content=body, headers=standard_headers("msg_1", body)
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "/time"
        assert "out of range" in orjson.dumps(response.json()).decode()
        assert await events_of(http, admin) == []
        assert await inbox_of(http, admin) == []


# --- query instants, dates and periods ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "pointer"),
    [
        ("/v1/scoreboard", {"from": "0001-01-01", "to": "2026-01-01"}, "/query/from"),
        ("/v1/scoreboard", {"from": "2026-01-01", "to": "9999-12-31"}, "/query/to"),
        ("/v1/scoreboard", {"from": "2026-W01-1", "to": "2026-04-01"}, "/query/from"),
        ("/v1/scoreboard", {"from": "20260101", "to": "2026-04-01"}, "/query/from"),
        ("/v1/scoreboard", {"period": "2026-Q1\n"}, "/query/period"),
        ("/v1/scoreboard", {"period": "0001-Q1"}, "/query/period"),
        ("/v1/scoreboard", {"period": "2199-Q4"}, "/query/period"),
        ("/v1/scoreboard", {"period": "\u0662\u0660\u0662\u0666-Q1"}, "/query/period"),
        ("/v1/scoreboard", {"period": "2026-Q1", "known_at": "9999-12-31"}, "/query/known_at"),
        ("/v1/analytics/waterfall", {"from": "0001-01-01", "to": "2026-01-01"}, "/query/from"),
        ("/v1/analytics/win-rate", {"period": "2026-Q1", "as_of": "0001-01-01"}, "/query/as_of"),
        ("/v1/exports/facts", {"from": "1899-12-31", "to": "2026-01-01"}, "/query/from"),
        ("/v1/deals/D-1", {"as_of": "0001-01-01T00:00:00+14:00"}, "/query/as_of"),
        ("/v1/deals/D-1", {"as_of": "9999-12-31"}, "/query/as_of"),
        ("/v1/deals/D-1", {"known_at": "2026-01-12T10:00:00 0800"}, "/query/known_at"),
        ("/v1/deals/D-1/events", {"known_at": "0001-01-01"}, "/query/known_at"),
        ("/v1/funnel", {"as_of": "2200-01-01T00:00:00Z"}, "/query/as_of"),
        ("/v1/funnel", {"as_of": "2026-01-12T10:00:00.5+14:60"}, "/query/as_of"),
        ("/v1/accounts", {"period": "2026-Q1", "as_of": "9999-12-31"}, "/query/as_of"),
        ("/v1/accounts", {"from": "2026-04-01", "to": "2026-01-01"}, "/query/to"),
        ("/v1/accounts/A-1", {"period": "2026-Q9"}, "/query/period"),
    ],
)
async def test_a_query_instant_out_of_range_or_shape_is_422_naming_it(
    client: httpx.AsyncClient,
    tokens: dict[str, str],
    path: str,
    params: dict[str, str],
    pointer: str,
) -> None:
    response = await client.get(path, params=params, headers=bearer(tokens["admin"]))
    assert response.status_code == 422, response.text
    assert pointer in pointers(response)


async def test_query_instants_at_the_edges_of_the_range_answer(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    reader = bearer(tokens["read"])
    for params in (
        {"period": "1900-Q1"},
        {"period": "2199-Q3", "known_at": "2199-12-31T23:59:59.999999Z"},
        {"from": "2199-12-30", "to": "2199-12-31T00:00:00+00:00", "as_of": "2199-12-31"},
        {"from": "2026-01-12 10:00:00", "to": "2026-01-13T10:00:00 08:00"},
    ):
        response = await client.get("/v1/scoreboard", params=params, headers=reader)
        assert response.status_code == 200, (params, response.text)


async def test_the_audit_export_refuses_year_1_and_its_request_log_still_answers(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    auditor = bearer(tokens["audit"])
    for params in ({"from": "0001-01-01", "to": "2026-01-01"}, {"period": "2026-Q1\n"}):
        export = await client.get("/v1/audit/export", params=params, headers=auditor)
        assert export.status_code == 422, export.text
    replay = await client.get(
        "/v1/audit/replay", params={"period": "2026-Q1", "known_at": "0001-01-01"}, headers=auditor
    )
    assert replay.status_code == 422 and "/query/known_at" in pointers(replay)
    assert (await client.get("/v1/audit/requests", headers=auditor)).status_code == 200


# --- key expiries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "2200-01-01T00:00:00Z",
        "2027-W01-1T00:00:00Z",
        "2027-01-01",
        "2027-01-01T00:00:00",
        4102444800,
    ],
)
async def test_a_key_expiry_out_of_range_or_shape_is_422_on_create_and_rotate(
    client: httpx.AsyncClient, tokens: dict[str, str], expires_at: object
) -> None:
    admin = bearer(tokens["admin"])
    body = {"name": "bi", "scopes": ["read"], "expires_at": expires_at}
    created = await client.post("/v1/admin/keys", json=body, headers=admin)
    assert created.status_code == 422, created.text
    assert "/body/expires_at" in pointers(created)
    listed = (await client.get("/v1/admin/keys", headers=admin)).json()["keys"]
    assert all(key["name"] != "bi" for key in listed)
    key_id = listed[0]["key_id"]
    rotated = await client.post(
        f"/v1/admin/keys/{key_id}/rotate", json={"expires_at": expires_at}, headers=admin
    )
    assert rotated.status_code == 422 and "/body/expires_at" in pointers(rotated)


async def test_a_key_expiry_within_range_is_kept(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    body = {"name": "bi", "scopes": ["read"], "expires_at": "2199-12-31T23:59:59+00:00"}
    created = await client.post("/v1/admin/keys", json=body, headers=bearer(tokens["admin"]))
    assert created.status_code == 201, created.text
    assert created.json()["key"]["expires_at"].startswith("2199-12-31T23:59:59")


def test_the_cli_refuses_a_key_expiry_out_of_range(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    for expires in ("9999-12-31", "2027-W01-1T00:00:00Z", "0001-01-01T00:00:00+14:00"):
        refused = runner.invoke(
            cli, ["keys", "create", "--name", "x", "--scopes", "read", "--expires", expires]
        )
        assert refused.exit_code != 0 and "--expires" in refused.output
    created = runner.invoke(
        cli, ["keys", "create", "--name", "y", "--scopes", "read", "--expires", "2199-01-01"]
    )
    assert created.exit_code == 0, created.output
    key_id = created.stdout.strip().splitlines()[-1].split("_")[1]
    refused = runner.invoke(cli, ["keys", "rotate", key_id, "--expires", "9999-12-31"])
    assert refused.exit_code != 0 and "--expires" in refused.output
    listed = runner.invoke(cli, ["keys", "list", "--json"])
    assert '"name": "x"' not in listed.stdout and "2199-01-01T00:00:00+00:00" in listed.stdout


# --- the dashboard -------------------------------------------------------------------------------


async def test_the_dashboard_ignores_dates_out_of_range_and_names_them(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    signed_in = await client.post(
        "/login", data={"key": tokens["read"], "next": "/"}, headers={"Origin": "http://testserver"}
    )
    assert signed_in.status_code == 303
    for query, named in (
        ("from=0001-01-01&to=2026-04-01", "from"),
        ("from=2026-01-01&to=2026-04-01&as_of=9999-12-31", "as_of"),
        ("from=2026-W01-1&to=2026-04-01", "from"),
        ("period=2026-Q1%0A", "period"),
        ("period=0001-Q1", "period"),
    ):
        page = await client.get(f"/?{query}")
        assert page.status_code == 200, (query, page.text[:500])
        assert 'role="alert"' in page.text and named in page.text

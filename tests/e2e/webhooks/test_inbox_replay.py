"""Inbox replay: items kept because the mapping could not place them are stored once it can.

HubSpot does not resend a delivery it got a 2xx for, so what went to the inbox must be
replayable, by the admin endpoints and by `funnel-ledger webhooks replay`, idempotently.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app as cli
from tests.conftest import bearer, make_settings
from tests.e2e.webhooks.test_hubspot import change, deliver, ms
from tests.e2e.webhooks.test_hubspot_order import created
from tests.webhooks import CONFIG, SECRETS, dumps, events_of, inbox_of

pytestmark = pytest.mark.e2e

AT = "2026-03-02T10:00:00Z"
LATER = "2026-03-09T10:00:00Z"
CREATION = "  currency: TWD\n  deal_created: {type: lead.sourced, data: {channel: other}}\n"
NEW_OWNER = "  users: {7001: R-07, 7002: R-08, 7003: R-09}\n"


def mapping(tmp_path: Path, name: str, *, owner_7003: bool) -> Path:
    """The test mapping with deal creation mapped; owner 7003 mapped only when asked."""
    text = CONFIG.replace("  currency: TWD\n", CREATION, 1)
    if owner_7003:
        text = text.replace("  users: {7001: R-07, 7002: R-08}\n", NEW_OWNER, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The service as first deployed: owner 7003 is not mapped yet."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    path = mapping(tmp_path, "before.yaml", owner_7003=False)
    return make_settings(database_url, FUNNEL_WEBHOOKS_CONFIG=str(path))


@asynccontextmanager
async def redeployed(database_url: str, config: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The service restarted on the same database with a fixed mapping."""
    application = create_app(make_settings(database_url, FUNNEL_WEBHOOKS_CONFIG=str(config)))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def replay(http: httpx.AsyncClient, admin: str, **params: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/admin/webhooks/inbox/replay", params=params, headers=bearer(admin)
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def leads(http: httpx.AsyncClient, reader: str) -> int:
    board = await http.get("/v1/scoreboard", params={"period": "2026-Q1"}, headers=bearer(reader))
    assert board.status_code == 200, board.text
    count: int = board.json()["totals"]["leads"]
    return count


async def keep_two_items(client: httpx.AsyncClient) -> None:
    """A creation alone (owner unknown), and a later owner change to an unmapped owner."""
    first = await deliver(client, dumps([created(31, AT, 4401)]))
    second = await deliver(client, dumps([change(32, "hubspot_owner_id", "7003", LATER, 4401)]))
    assert (first.status_code, second.status_code) == (202, 202)


async def test_replay_after_the_owner_arrives_and_the_mapping_is_fixed(
    client, tokens, database_url, tmp_path
):
    # Given a creation kept for want of an owner, and an owner change to an unmapped owner
    await keep_two_items(client)
    kept = await inbox_of(client, tokens["admin"])
    assert [item["replayed_at"] for item in kept] == [None, None]
    # When replayed before anything changed: both stay, nothing is stored
    report = await replay(client, tokens["admin"], vendor="hubspot")
    assert (report["replayed"], report["mapped"]) == (2, 0)
    assert "no known owner" in report["items"][0]["reason"]
    assert report["items"][1]["reason"] == "HubSpot owner '7003' is not mapped"
    assert await events_of(client, tokens["read"]) == []
    assert all(item["replayed_at"] for item in await inbox_of(client, tokens["admin"]))
    # When HubSpot then sends the owner it set at creation (a separate delivery)
    owner = await deliver(client, dumps([change(33, "hubspot_owner_id", "7002", AT, 4401)]))
    assert owner.status_code == 201
    # And the service restarts with owner 7003 mapped, and the inbox is replayed
    fixed = mapping(tmp_path, "after.yaml", owner_7003=True)
    async with redeployed(database_url, fixed) as http:
        report = await replay(http, tokens["admin"])
        # Then both items map now, and their events are stored with their delivery ids
        assert (report["replayed"], report["mapped"]) == (2, 2)
        ids = [r["id"] for item in report["items"] for r in item["results"]]
        assert ids == [
            f"62515-4401-deal.creation-{ms(AT)}-31",
            f"62515-4401-hubspot_owner_id-{ms(LATER)}-32",
        ]
        assert {r["status"] for item in report["items"] for r in item["results"]} == {"created"}
        made = {e["type"]: e for e in await events_of(http, tokens["read"])}
        assert made["lead.sourced"]["data"]["rep_id"] == "R-08"
        assert made["lead.sourced"]["time"] == "2026-03-02T10:00:00+00:00"
        assert len(await events_of(http, tokens["read"])) == 3
        assert await leads(http, tokens["read"]) == 1
        # And replaying again stores nothing new: nothing waits, and an item named by id
        # maps to the events already stored
        again = await replay(http, tokens["admin"])
        assert again == {"replayed": 0, "mapped": 0, "items": []}
        item_id = report["items"][0]["id"]
        one = await http.post(
            f"/v1/admin/webhooks/inbox/{item_id}/replay", headers=bearer(tokens["admin"])
        )
        assert one.status_code == 200, one.text
        assert [r["status"] for r in one.json()["items"][0]["results"]] == ["duplicate"]
        assert len(await events_of(http, tokens["read"])) == 3
        inbox = await inbox_of(http, tokens["admin"])
        assert all(item["mapped_at"] for item in inbox)


async def test_replay_needs_admin_and_an_existing_item(client, tokens):
    reader = bearer(tokens["read"])
    refused = await client.post("/v1/admin/webhooks/inbox/replay", headers=reader)
    assert refused.status_code == 403
    missing = await client.post(
        "/v1/admin/webhooks/inbox/99/replay", headers=bearer(tokens["admin"])
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_cli_replay_stores_once(client, tokens, database_url, tmp_path, monkeypatch):
    # Given two items kept under the first mapping
    await keep_two_items(client)
    await deliver(client, dumps([change(33, "hubspot_owner_id", "7002", AT, 4401)]))
    # When the operator fixes the mapping and replays from the command line
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv(
        "FUNNEL_WEBHOOKS_CONFIG", str(mapping(tmp_path, "cli.yaml", owner_7003=True))
    )
    runner = CliRunner()
    [first_id, _] = [item["id"] for item in await inbox_of(client, tokens["admin"])]
    one = await asyncio.to_thread(
        runner.invoke, cli, ["webhooks", "replay", "--vendor", "hubspot", "--id", str(first_id)]
    )
    assert one.exit_code == 0, one.output
    assert f"{first_id} hubspot 62515-4401-deal.creation-" in one.stdout
    assert "mapped: 1 new of 1 events" in one.stdout
    rest = await asyncio.to_thread(runner.invoke, cli, ["webhooks", "replay"])
    assert rest.exit_code == 0, rest.output
    assert "mapped: 1 new of 1 events" in rest.stdout
    assert "replayed 1 items: 1 mapped, 0 still waiting" in rest.output
    # Then the events are stored once, however often the replay runs
    again = await asyncio.to_thread(runner.invoke, cli, ["webhooks", "replay"])
    assert again.exit_code == 0, again.output
    assert "replayed 0 items" in again.output
    assert len(await events_of(client, tokens["read"])) == 3
    missing = await asyncio.to_thread(runner.invoke, cli, ["webhooks", "replay", "--id", "999"])
    assert missing.exit_code == 1
    assert await leads(client, tokens["read"]) == 1

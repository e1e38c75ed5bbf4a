"""HubSpot: the items of one delivery map to the same events whatever order HubSpot lists them in.

HubSpot sends a new deal as a `deal.creation` item and its owner as a separate property change
at the same `occurredAt`; with the documented mapping (`deal_created` on, no `default_rep_id`)
the lead must be sourced, credited to that owner, in every order.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.settings import Settings
from tests.conftest import bearer, make_settings
from tests.e2e.webhooks.test_hubspot import change, deliver, ms
from tests.webhooks import CONFIG, SECRETS, dumps, events_of, inbox_of

pytestmark = pytest.mark.e2e

AT = "2026-03-02T10:00:00Z"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test mapping with HubSpot's deal creation mapped to `lead.sourced`."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = CONFIG.replace(
        "  currency: TWD\n",
        "  currency: TWD\n  deal_created: {type: lead.sourced, data: {channel: other}}\n",
        1,
    )
    path = tmp_path / "webhooks.yaml"
    path.write_text(config, encoding="utf-8")
    return make_settings(database_url, FUNNEL_WEBHOOKS_CONFIG=str(path))


def created(event_id: int, at: str, deal: int) -> dict[str, Any]:
    """A `deal.creation` item as HubSpot documents it."""
    return {
        "eventId": event_id,
        "subscriptionId": 2140,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": ms(at),
        "subscriptionType": "deal.creation",
        "attemptNumber": 0,
        "objectId": deal,
        "changeSource": "CRM_UI",
    }


def facts(deal: int) -> list[dict[str, Any]]:
    """A new deal: created, given an owner and an amount, and qualified, all at one instant."""
    return [
        created(11, AT, deal),
        change(12, "hubspot_owner_id", "7002", AT, deal=deal),
        change(13, "amount", "125000", AT, deal=deal),
        change(14, "dealstage", "qualifiedtobuy", AT, deal=deal),
    ]


def as_of_deal(event: dict[str, Any], deal: int) -> dict[str, Any]:
    """An event's identity and content, with its deal's number taken out (one deal per order)."""
    kept = {k: event[k] for k in ("source", "id", "type", "subject", "time", "data")}
    loaded: dict[str, Any] = orjson.loads(dumps(kept).replace(str(deal).encode(), b"<deal>"))
    return loaded


async def test_every_order_of_one_delivery_stores_the_same_events(client, tokens):
    orders = list(itertools.permutations(range(4)))
    stored: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    seen = 0
    for number, order in enumerate(orders):
        deal = 90100 + number
        items = facts(deal)
        # When HubSpot lists the facts of one new deal in this order
        response = await deliver(client, dumps([items[i] for i in order]))
        assert response.status_code == 201, response.text
        assert response.json()["inbox"] == 0
        made = (await events_of(client, tokens["read"]))[seen:]
        seen += len(made)
        stored[order] = [as_of_deal(event, deal) for event in made]
    # Then every order stored the same events, in the same order, with the same ids and data
    first = stored[orders[0]]
    for order, events in stored.items():
        assert events == first, order
    assert [e["type"] for e in first] == [
        "lead.sourced",
        "deal.reassigned",
        "deal.amount_revised",
        "deal.qualified",
    ]
    assert first[0]["id"] == f"62515-<deal>-deal.creation-{ms(AT)}-11"
    assert first[0]["data"]["rep_id"] == "R-08"
    assert first[3]["data"] == {"rep_id": "R-08", "amount": "125000", "currency": "TWD"}
    assert await inbox_of(client, tokens["admin"]) == []
    # And every deal counts as a lead and an opportunity of its owner
    board = await client.get(
        "/v1/scoreboard",
        params={"period": "2026-Q1", "group_by": "rep"},
        headers=bearer(tokens["read"]),
    )
    assert board.status_code == 200, board.text
    assert board.json()["totals"]["leads"] == len(orders)
    assert board.json()["totals"]["opportunities"] == len(orders)


async def test_a_creation_without_any_owner_still_waits_in_the_inbox(client, tokens):
    # Given a delivery with the creation alone: no owner known, none set, no default rep
    response = await deliver(client, dumps([created(21, AT, 6001)]))
    # Then it is kept, not credited to anyone
    assert response.status_code == 202
    [item] = await inbox_of(client, tokens["admin"])
    assert "no known owner" in item["reason"]
    assert await events_of(client, tokens["read"]) == []

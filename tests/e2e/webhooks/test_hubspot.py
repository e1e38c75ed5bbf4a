"""HubSpot deal webhooks: signature v3, its 5-minute window, replays, mapping, inbox."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import bearer
from tests.factories import sourced
from tests.webhooks import dumps, events_of, hubspot_headers, inbox_of

pytestmark = pytest.mark.e2e


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def change(event_id: int, prop: str, value: str, at: str, deal: int = 1042) -> dict[str, Any]:
    """One item as HubSpot documents it for `deal.propertyChange`."""
    return {
        "eventId": event_id,
        "subscriptionId": 2141,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": ms(at),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": deal,
        "propertyName": prop,
        "propertyValue": value,
        "changeSource": "CRM_UI",
        "sourceId": "userId:7001",
    }


async def deliver(client, body: bytes, **kw):
    return await client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body, **kw))


async def test_signed_deal_changes_become_contract_events(client, tokens):
    # Given a deal the CRM sourced for R-07
    lead = sourced("HS-1042", "R-07", "2026-03-01T09:00:00Z")
    await client.post("/v1/events", json=lead, headers=bearer(tokens["events:write"]))
    # When HubSpot delivers amount, stage, owner and stage changes (out of order)
    items = [
        change(1, "dealstage", "closedwon", "2026-03-10T10:00:00Z"),
        change(1, "amount", "125000", "2026-03-02T10:00:00Z"),
        change(2, "dealstage", "qualifiedtobuy", "2026-03-02T10:05:00Z"),
        change(3, "hubspot_owner_id", "7002", "2026-03-05T10:00:00Z"),
    ]
    response = await deliver(client, dumps(items))
    # Then each becomes the contract event, credited to the deal's owner at that time
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 4
    made = {e["type"]: e for e in (await events_of(client, tokens["read"]))[1:]}
    assert made["deal.amount_revised"]["data"] == {
        "rep_id": "R-07",
        "amount": "125000",
        "currency": "TWD",
    }
    assert made["deal.qualified"]["data"] == {
        "rep_id": "R-07",
        "amount": "125000",
        "currency": "TWD",
    }
    assert made["deal.reassigned"]["data"] == {"rep_id": "R-07", "to_rep_id": "R-08"}
    assert made["deal.contract_signed"]["data"] == {
        "rep_id": "R-08",
        "amount": "125000",
        "currency": "TWD",
        "contract_id": "hubspot-1042",
    }
    signed = made["deal.contract_signed"]
    assert signed["source"] == "hubspot" and signed["subject"] == "HS-1042"
    assert signed["id"] == f"62515-1042-dealstage-{ms('2026-03-10T10:00:00Z')}-1"
    assert signed["time"] == "2026-03-10T10:00:00+00:00"
    deal = (await client.get("/v1/deals/HS-1042", headers=bearer(tokens["read"]))).json()
    assert (deal["stage"], deal["owner_rep_id"]) == ("won", "R-08")


async def test_replayed_delivery_is_200_and_stores_nothing_new(client, tokens):
    body = dumps([change(9, "amount", "5000", "2026-03-02T10:00:00Z")])
    headers = hubspot_headers(body)
    await client.post(
        "/v1/events",
        json=sourced("HS-1042", "R-07", "2026-03-01T09:00:00Z"),
        headers=bearer(tokens["events:write"]),
    )
    first = await client.post("/webhooks/hubspot", content=body, headers=headers)
    again = await client.post("/webhooks/hubspot", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"]
    assert len(await events_of(client, tokens["read"])) == 2


async def test_bad_signature_is_401_and_stores_nothing(client, tokens):
    body = dumps([change(9, "amount", "5000", "2026-03-02T10:00:00Z")])
    forged = await deliver(client, body, secret="not-the-app-secret")
    tampered_headers = hubspot_headers(body)
    tampered = await client.post(
        "/webhooks/hubspot", content=body.replace(b"5000", b"9000"), headers=tampered_headers
    )
    unsigned = await client.post("/webhooks/hubspot", content=body)
    for response in (forged, tampered, unsigned):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


async def test_expired_timestamp_is_401_even_when_correctly_signed(client, tokens):
    body = dumps([change(9, "amount", "5000", "2026-03-02T10:00:00Z")])
    six_minutes_ago = int((time.time() - 360) * 1000)
    response = await deliver(client, body, sent_ms=six_minutes_ago)
    assert response.status_code == 401
    assert response.json()["type"].endswith("/webhook-expired")
    assert await events_of(client, tokens["read"]) == []


async def test_unmapped_changes_are_kept_in_the_inbox_never_counted(client, tokens):
    items = [
        change(5, "dealname", "Big one", "2026-03-02T10:00:00Z"),
        change(6, "dealstage", "appointmentscheduled", "2026-03-02T10:01:00Z"),
    ]
    body = dumps(items)
    response = await deliver(client, body)
    assert response.status_code == 202 and response.json()["inbox"] == 2
    kept = await inbox_of(client, tokens["admin"])
    assert [item["reason"] for item in kept] == [
        "deal property 'dealname' is not mapped",
        "deal stage 'appointmentscheduled' is not mapped",
    ]
    assert kept[0]["vendor"] == "hubspot" and kept[0]["payload"] == items[0]
    assert await events_of(client, tokens["read"]) == []
    # A replay keeps nothing twice
    assert (await deliver(client, body)).status_code == 200
    assert len(await inbox_of(client, tokens["admin"])) == 2


async def test_stage_change_of_a_deal_without_known_owner_goes_to_the_inbox(client, tokens):
    response = await deliver(
        client, dumps([change(7, "dealstage", "contractsent", "2026-03-02T10:00:00Z")])
    )
    assert response.status_code == 202
    [kept] = await inbox_of(client, tokens["admin"])
    assert "no known owner" in kept["reason"]

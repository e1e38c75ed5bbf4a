"""Aircall `call.ended`: the token in the body, mapping to `call.logged`, replays, inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.webhooks import AIRCALL_TOKEN, dumps, events_of, inbox_of

pytestmark = pytest.mark.e2e

ENDED = int(datetime(2026, 3, 24, 9, 40, 10, tzinfo=UTC).timestamp())


def call_event(
    event: str = "call.ended", token: str = AIRCALL_TOKEN, **call: Any
) -> dict[str, Any]:
    """A webhook as Aircall documents it: resource, event, timestamp, token, data."""
    data = {
        "id": 812,
        "direct_link": "https://api.aircall.io/v1/calls/812",
        "direction": "inbound",
        "status": "done",
        "missed_call_reason": None,
        "started_at": ENDED - 31,
        "answered_at": ENDED - 25,
        "ended_at": ENDED,
        "duration": 31,
        "raw_digits": "+33 1 76 36 06 95",
        "user": {"id": 456, "name": "John Doe", "email": "john.doe@aircall.io"},
        "contact": None,
        "archived": False,
        "tags": [],
        "comments": [],
        "number": {"id": 123, "name": "Sales line", "digits": "+1 800-123-4567"},
    }
    return {
        "resource": "call",
        "event": event,
        "timestamp": ENDED + 2,
        "token": token,
        "data": data | call,
    }


async def post(client, payload: Any):
    body = dumps(payload)
    return await client.post(
        "/webhooks/aircall", content=body, headers={"Content-Type": "application/json"}
    )


async def test_call_ended_becomes_call_logged(client, tokens):
    response = await post(client, call_event())
    assert response.status_code == 201, response.text
    [made] = await events_of(client, tokens["read"])
    assert (made["type"], made["source"], made["id"], made["subject"]) == (
        "call.logged",
        "aircall",
        "call-812",
        "D-1042",
    )
    assert made["time"] == "2026-03-24T09:40:10+00:00"
    assert made["data"] == {
        "rep_id": "R-07",
        "direction": "inbound",
        "duration_s": 31,
        "outcome": "answered",
    }


async def test_a_deal_tag_names_the_deal(client, tokens):
    tagged = call_event(
        id=813, raw_digits="+886 2 1234 5678", tags=[{"id": 9, "name": "deal:D-77"}]
    )
    assert (await post(client, tagged)).status_code == 201
    [made] = await events_of(client, tokens["read"])
    assert made["subject"] == "D-77"


async def test_replayed_delivery_is_200_duplicate(client, tokens):
    assert (await post(client, call_event())).status_code == 201
    again = await post(client, call_event())
    assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"
    assert len(await events_of(client, tokens["read"])) == 1


async def test_wrong_missing_or_unreadable_token_is_401(client, tokens):
    wrong = await post(client, call_event(token="guess"))
    missing = await post(client, {k: v for k, v in call_event().items() if k != "token"})
    garbage = await client.post("/webhooks/aircall", content=b"{not json")
    for response in (wrong, missing, garbage):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


async def test_other_events_and_unknown_calls_are_kept_without_the_token(client, tokens):
    created = await post(client, call_event(event="call.created"))
    no_deal = await post(client, call_event(id=900, raw_digits="+1 555 0100"))
    assert (created.status_code, no_deal.status_code) == (202, 202)
    kept = await inbox_of(client, tokens["admin"])
    assert [item["reason"] for item in kept] == [
        "Aircall event 'call.created' is not mapped",
        "no deal for this call (no deal tag, number not mapped)",
    ]
    assert all("token" not in item["payload"] for item in kept)
    assert AIRCALL_TOKEN not in str(kept)

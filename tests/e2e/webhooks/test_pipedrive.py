"""Pipedrive webhooks v2: HTTP Basic credentials, deal and activity changes, replays, inbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import bearer
from tests.webhooks import PIPEDRIVE_PASSWORD, PIPEDRIVE_USER, basic, dumps, events_of, inbox_of

pytestmark = pytest.mark.e2e

AUTH = basic(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD)


def meta(action: str, entity: str, entity_id: int, event_id: str, at: str) -> dict[str, Any]:
    """The `meta` block of a v2 webhook, as Pipedrive documents it."""
    return {
        "action": action,
        "entity": entity,
        "company_id": "7654321",
        "correlation_id": "5c0b7d2a-0d3f-4a43-9d8e-0b1f8c0e9a11",
        "entity_id": str(entity_id),
        "id": event_id,
        "is_bulk_edit": False,
        "timestamp": at,
        "type": "general",
        "user_id": "12345",
        "version": "2.0",
        "webhook_id": "889",
        "webhook_owner_id": "12345",
        "change_source": "app",
        "attempt": 1,
        "host": "acme.pipedrive.com",
        "permitted_user_ids": ["12345"],
    }


def deal(**changes: Any) -> dict[str, Any]:
    """A deal's `data` block."""
    data = {
        "id": 501,
        "title": "Acme Corp - 40 seats",
        "owner_id": 12345,
        "creator_user_id": 12345,
        "value": 5000,
        "currency": "EUR",
        "stage_id": 1,
        "pipeline_id": 1,
        "status": "open",
        "lost_reason": None,
        "add_time": "2026-03-01T09:00:00Z",
        "update_time": "2026-03-01T09:00:00Z",
        "person_id": 77,
        "org_id": 55,
        "custom_fields": {},
    }
    return data | changes


def activity(kind: str, activity_id: int, done_at: str, duration: str) -> dict[str, Any]:
    """An activity's `data` block."""
    return {
        "id": activity_id,
        "owner_id": 12345,
        "type": kind,
        "subject": f"{kind} with Acme",
        "done": True,
        "deal_id": 501,
        "person_id": 77,
        "org_id": 55,
        "due_date": done_at[:10],
        "due_time": done_at[11:16],
        "duration": duration,
        "add_time": done_at,
        "update_time": done_at,
        "marked_as_done_time": done_at.replace("T", " ").removesuffix("Z"),
    }


def delivery(action, entity, data, previous, event_id, at) -> bytes:
    entity_id = data["id"] if data else 0
    return dumps(
        {"meta": meta(action, entity, entity_id, event_id, at), "data": data, "previous": previous}
    )


async def post(client, body: bytes, headers: dict[str, str] = AUTH):
    return await client.post("/webhooks/pipedrive", content=body, headers=headers)


async def test_deal_and_activity_changes_become_contract_events(client, tokens):
    deliveries = [
        delivery("create", "deal", deal(), None, "e-1", "2026-03-01T09:00:00Z"),
        delivery(
            "change", "deal", deal(stage_id=2), {"stage_id": 1}, "e-2", "2026-03-03T09:00:00Z"
        ),
        delivery(
            "create",
            "activity",
            activity("meeting", 31, "2026-03-04T10:00:00Z", "01:00"),
            None,
            "e-3",
            "2026-03-04T11:00:00Z",
        ),
        delivery(
            "create",
            "activity",
            activity("call", 32, "2026-03-05T10:00:00Z", "00:05"),
            None,
            "e-4",
            "2026-03-05T10:06:00Z",
        ),
        delivery(
            "change",
            "deal",
            deal(stage_id=2, status="won"),
            {"status": "open"},
            "e-5",
            "2026-03-09T09:00:00Z",
        ),
    ]
    for body in deliveries:
        response = await post(client, body)
        assert response.status_code == 201, response.text
    made = await events_of(client, tokens["read"])
    assert [(e["type"], e["id"]) for e in made] == [
        ("lead.sourced", "e-1:created"),
        ("deal.qualified", "e-2:stage"),
        ("visit.completed", "activity-31"),
        ("call.logged", "activity-32"),
        ("deal.contract_signed", "e-5:status"),
    ]
    assert {e["source"] for e in made} == {"pipedrive"} and {e["subject"] for e in made} == {
        "PD-501"
    }
    assert made[0]["data"] == {
        "rep_id": "R-07",
        "channel": "referral",
        "account": {"name": "Acme Corp - 40 seats"},
    }
    assert made[1]["data"] == {"rep_id": "R-07", "amount": "5000", "currency": "EUR"}
    assert made[2]["data"] == {"rep_id": "R-07", "kind": "FUA"}
    assert made[2]["time"] == "2026-03-04T10:00:00+00:00"
    assert made[3]["data"] == {"rep_id": "R-07", "direction": "outbound", "duration_s": 300}
    assert made[4]["data"]["contract_id"] == "pipedrive-501"
    state = (await client.get("/v1/deals/PD-501", headers=bearer(tokens["read"]))).json()
    assert (state["stage"], state["fua_visits"], state["calls"]) == ("won", 1, 1)


async def test_owner_change_is_a_reassignment_by_the_acting_user(client, tokens):
    body = delivery(
        "change", "deal", deal(owner_id=12346), {"owner_id": 12345}, "e-9", "2026-03-03T09:00:00Z"
    )
    assert (await post(client, body)).status_code == 201
    [made] = await events_of(client, tokens["read"])
    assert made["type"] == "deal.reassigned"
    assert made["data"] == {"rep_id": "R-07", "to_rep_id": "R-08"}


async def test_replayed_delivery_is_200_duplicate(client, tokens):
    body = delivery(
        "change", "deal", deal(stage_id=2), {"stage_id": 1}, "e-2", "2026-03-03T09:00:00Z"
    )
    first, again = await post(client, body), await post(client, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["results"][0]["status"] == "duplicate"
    assert len(await events_of(client, tokens["read"])) == 1


async def test_wrong_or_missing_credentials_are_401_and_store_nothing(client, tokens):
    body = delivery("create", "deal", deal(), None, "e-1", "2026-03-01T09:00:00Z")
    wrong = await post(client, body, basic(PIPEDRIVE_USER, "guess"))
    missing = await post(client, body, {"Content-Type": "application/json"})
    for response in (wrong, missing):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
        assert response.headers["content-type"] == "application/problem+json"
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


async def test_unmapped_entities_and_undone_activities_go_to_the_inbox(client, tokens):
    person = {"id": 77, "name": "Jane Buyer", "owner_id": 12345}
    planned = activity("meeting", 40, "2026-03-20T10:00:00Z", "01:00") | {"done": False}
    for body in (
        delivery("create", "person", person, None, "e-20", "2026-03-03T09:00:00Z"),
        delivery("create", "activity", planned, None, "e-21", "2026-03-03T09:00:00Z"),
        delivery(
            "change", "deal", deal(stage_id=7), {"stage_id": 2}, "e-22", "2026-03-03T09:00:00Z"
        ),
    ):
        assert (await post(client, body)).status_code == 202
    reasons = [item["reason"] for item in await inbox_of(client, tokens["admin"])]
    assert reasons == [
        "create of 'person' is not mapped",
        "this change does not mark the activity done",
        "stage 7 is not mapped",
    ]
    assert await events_of(client, tokens["read"]) == []

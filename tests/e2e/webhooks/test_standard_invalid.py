"""A Standard Webhooks sender speaks our contract: an invalid event is answered, not kept.

It gets the `422` problem `POST /v1/events` gives for the same events, and nothing is stored or
kept in the inbox, so the sender learns of its mistake and can fix it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import bearer
from tests.factories import signed, sourced
from tests.webhooks import dumps, events_of, inbox_of, standard_headers

pytestmark = pytest.mark.e2e

URL = "/webhooks/standard/erp"


def invalid_batch() -> list[dict[str, Any]]:
    """A good event, one without a time zone, one without a rep."""
    unsigned = signed("D-9", "R-03", "2026-03-20T09:00:00Z", id="erp-3", source="erp")
    del unsigned["data"]["rep_id"]
    return [
        sourced("D-9", "R-03", "2026-03-01T09:00:00Z", id="erp-1", source="erp"),
        sourced("D-9", "R-03", "2026-03-01T09:00:00", id="erp-2", source="erp"),
        unsigned,
    ]


async def test_invalid_events_get_the_problem_post_events_gives(client, tokens):
    body = dumps(invalid_batch())
    # When the sender delivers events the contract refuses
    response = await client.post(URL, content=body, headers=standard_headers("msg_a", body))
    # Then it is told why, exactly as POST /v1/events would tell it
    direct = await client.post(
        "/v1/events",
        content=body,
        headers={**bearer(tokens["events:write"]), "Content-Type": "application/json"},
    )
    assert response.status_code == direct.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem, expected = response.json(), direct.json()
    for member in ("type", "title", "status", "detail", "errors"):
        assert problem[member] == expected[member], member
    assert [e["index"] for e in problem["errors"]] == [1, 2]
    # And nothing was stored or kept
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


async def test_one_invalid_object_is_refused_too(client, tokens):
    event = sourced("D-9", "R-03", "2026-03-01T09:00:00Z", id="erp-1", source="erp")
    event["type"] = "lead.imagined"
    body = dumps(event)
    response = await client.post(URL, content=body, headers=standard_headers("msg_b", body))
    assert response.status_code == 422
    assert response.json()["type"].endswith("invalid-events")
    assert response.json()["errors"][0]["pointer"] == "/type"
    assert await inbox_of(client, tokens["admin"]) == []


async def test_a_body_that_is_not_json_is_400_and_not_kept(client, tokens):
    body = b"{not json"
    response = await client.post(URL, content=body, headers=standard_headers("msg_c", body))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert await inbox_of(client, tokens["admin"]) == []


async def test_the_fixed_delivery_is_then_stored(client, tokens):
    events = invalid_batch()
    body = dumps(events)
    refused = await client.post(URL, content=body, headers=standard_headers("msg_d", body))
    assert refused.status_code == 422
    # When the sender fixes its events and sends them again
    events[1]["time"] = "2026-03-01T09:00:00Z"
    events[1]["id"] = "erp-2"
    events[2]["data"]["rep_id"] = "R-03"
    fixed = dumps(events)
    response = await client.post(URL, content=fixed, headers=standard_headers("msg_e", fixed))
    assert response.status_code == 201, response.text
    assert [e["id"] for e in await events_of(client, tokens["read"])] == ["erp-1", "erp-2", "erp-3"]

"""POST /v1/events through HTTP: contract §2 and §3."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import bearer
from tests.factories import ce, qualified, retraction, signed, sourced, visit

pytestmark = pytest.mark.e2e

BATCH = "application/cloudevents-batch+json"
ONE = "application/cloudevents+json"


async def post(
    client: httpx.AsyncClient, token: str, body: object, content_type: str = BATCH, **headers: str
) -> httpx.Response:
    return await client.post(
        "/v1/events",
        content=orjson.dumps(body),
        headers={**bearer(token), "Content-Type": content_type, **headers},
    )


async def feed(
    client: httpx.AsyncClient, token: str, after: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/events?after={after}&limit={limit}", headers=bearer(token))
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_one_structured_event_is_created(client, tokens):
    event = signed("D-1042", "R-07", "2026-03-30T09:12:00+08:00", amount="125000.00")
    response = await post(client, tokens["events:write"], event, ONE)
    assert response.status_code == 201
    assert response.json() == {
        "results": [
            {
                "source": "crm",
                "id": event["id"],
                "status": "created",
                "position": 1,
                "stream_version": 1,
            }
        ]
    }
    [stored] = await feed(client, tokens["read"])
    assert stored["time"] == "2026-03-30T01:12:00+00:00"
    assert stored["data"]["amount"] == "125000.00"
    assert stored["recorded_at"] and stored["position"] == 1 and stored["stream_version"] == 1


async def test_same_batch_twice_stores_nothing_new(client, tokens):
    batch = [
        sourced("D-1", "R-1", "2026-01-05T10:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T10:00:00Z"),
    ]
    first = await post(client, tokens["events:write"], batch)
    second = await post(client, tokens["events:write"], batch)
    assert first.status_code == 201
    assert second.status_code == 200
    assert [r["status"] for r in second.json()["results"]] == ["duplicate", "duplicate"]
    assert [r["position"] for r in second.json()["results"]] == [1, 2]
    assert len(await feed(client, tokens["read"])) == 2


async def test_duplicate_within_one_batch_is_stored_once(client, tokens):
    event = sourced("D-1", "R-1", "2026-01-05T10:00:00Z")
    response = await post(client, tokens["events:write"], [event, event])
    assert response.status_code == 201
    assert [r["status"] for r in response.json()["results"]] == ["created", "duplicate"]
    assert len(await feed(client, tokens["read"])) == 1


async def test_plain_json_object_and_array_are_accepted(client, tokens):
    single = await post(
        client,
        tokens["events:write"],
        sourced("D-1", "R-1", "2026-01-05T10:00:00Z"),
        "application/json",
    )
    many = await post(
        client,
        tokens["events:write"],
        [visit("D-1", "R-1", "2026-01-06T10:00:00Z")],
        "application/json; charset=utf-8",
    )
    assert (single.status_code, many.status_code) == (201, 201)


async def post_binary_call(
    client: httpx.AsyncClient, token: str, time: str, **attributes: str
) -> httpx.Response:
    """A binary-mode `call.logged` event (pbx-1 on D-9); `attributes` as further ce- headers."""
    headers = {
        **bearer(token),
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "pbx-1",
        "ce-source": "pbx",
        "ce-type": "call.logged",
        "ce-subject": "D-9",
        "ce-time": time,
        **{f"ce-{name}": value for name, value in attributes.items()},
    }
    data = {"rep_id": "R-2", "direction": "outbound", "duration_s": 120}
    return await client.post("/v1/events", content=orjson.dumps(data), headers=headers)


async def test_binary_mode_event_is_accepted(client, tokens):
    response = await post_binary_call(client, tokens["events:write"], "2026-02-01T08:00:00%2B08:00")
    assert response.status_code == 201, response.text
    [stored] = await feed(client, tokens["read"])
    assert stored["type"] == "call.logged" and stored["time"] == "2026-02-01T00:00:00+00:00"


async def test_conflicting_reuse_of_a_key_is_409_and_stores_nothing(client, tokens):
    original = signed("D-1", "R-1", "2026-03-01T10:00:00Z", amount="100.00", id="k-1")
    assert (await post(client, tokens["events:write"], original, ONE)).status_code == 201
    changed = signed("D-1", "R-1", "2026-03-01T10:00:00Z", amount="999.00", id="k-1")
    fresh = visit("D-1", "R-1", "2026-03-02T10:00:00Z")
    response = await post(client, tokens["events:write"], [fresh, changed])
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 409 and problem["errors"][0]["index"] == 1
    assert len(await feed(client, tokens["read"])) == 1


async def test_batch_with_one_bad_item_is_422_naming_it_and_stores_nothing(client, tokens):
    good = sourced("D-1", "R-1", "2026-01-05T10:00:00Z")
    bad = ce("deal.qualified", "D-1", "2026-01-06T10:00:00Z", {"rep_id": "R-1", "amount": "12"})
    response = await post(client, tokens["events:write"], [good, bad, good])
    assert response.status_code == 422
    problem = response.json()
    assert {e["index"] for e in problem["errors"]} == {1}
    assert any(e["pointer"] == "/data/currency" for e in problem["errors"])
    assert await feed(client, tokens["read"]) == []


@pytest.mark.parametrize(
    ("mutation", "pointer"),
    [
        ({"type": "deal.teleported"}, "/type"),
        ({"time": "2026-01-05T10:00:00"}, "/time"),
        ({"time": None}, "/time"),
        ({"subject": "D 1"}, "/subject"),
        ({"subject": "rep:R-1"}, "/subject"),
        ({"specversion": "0.3"}, "/specversion"),
        ({"id": ""}, "/id"),
        ({"data": {"rep_id": "R-1", "account": {"name": "A"}, "channel": "fax"}}, "/data/channel"),
        ({"data": {"account": {"name": "A"}, "channel": "web"}}, "/data/rep_id"),
        (
            {"data": {"rep_id": "R-1", "account": {"name": "A"}, "channel": "web", "x": 1}},
            "/data/x",
        ),
    ],
)
async def test_invalid_event_is_422_with_a_pointer(client, tokens, mutation, pointer):
    event = {**sourced("D-1", "R-1", "2026-01-05T10:00:00Z"), **mutation}
    response = await post(client, tokens["events:write"], event, ONE)
    assert response.status_code == 422
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert await feed(client, tokens["read"]) == []


async def test_a_nul_character_is_422_and_stores_nothing(client, tokens):
    good = visit("D-1", "R-1", "2026-03-01T10:00:00Z")
    in_data = retraction("D-1", "R-1", "2026-03-02T10:00:00Z", good)
    in_data["data"]["reason"] = "typed\x00by mistake"
    in_extension = {**visit("D-1", "R-1", "2026-03-03T10:00:00Z"), "note": "a\x00b"}
    for bad in (in_data, in_extension):
        response = await post(client, tokens["events:write"], [good, bad])
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["index"] == 1 and "NUL" in error["detail"]
    response = await post_binary_call(
        client, tokens["events:write"], "2026-02-01T08:00:00Z", note="a%00b"
    )
    assert response.status_code == 422 and "NUL" in response.text
    assert await feed(client, tokens["read"]) == []


async def test_the_text_of_a_nul_escape_is_not_a_nul(client, tokens):
    # A backslash before "u0000": the JSON text holds the escape's spelling, not the character.
    event = {**visit("D-1", "R-1", "2026-03-01T10:00:00Z"), "note": "C:\\u0000"}
    response = await post(client, tokens["events:write"], event, ONE)
    assert response.status_code == 201, response.text


async def test_time_more_than_five_minutes_ahead_is_422(client, tokens):
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    later = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    assert (
        await post(client, tokens["events:write"], visit("D-1", "R-1", soon), ONE)
    ).status_code == 201
    response = await post(client, tokens["events:write"], visit("D-1", "R-1", later), ONE)
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/time"


async def test_amount_as_json_number_and_unknown_currency(client, tokens):
    ok = qualified("D-1", "R-1", "2026-01-05T10:00:00Z") | {
        "data": {"rep_id": "R-1", "amount": 1500.5, "currency": "USD"}
    }
    assert (await post(client, tokens["events:write"], ok, ONE)).status_code == 201
    bad = qualified("D-2", "R-1", "2026-01-05T10:00:00Z") | {
        "data": {"rep_id": "R-1", "amount": "1", "currency": "XYZ"}
    }
    assert (await post(client, tokens["events:write"], bad, ONE)).status_code == 422


async def test_expected_version_mismatch_is_409(client, tokens):
    first = sourced("D-1", "R-1", "2026-01-05T10:00:00Z", expectedversion=0)
    assert (await post(client, tokens["events:write"], first, ONE)).status_code == 201
    stale = visit("D-1", "R-1", "2026-01-06T10:00:00Z", expectedversion=0)
    response = await post(client, tokens["events:write"], stale, ONE)
    assert response.status_code == 409
    assert response.json()["type"].endswith("version-conflict")
    current = visit("D-1", "R-1", "2026-01-06T10:00:00Z", expectedversion=1)
    assert (await post(client, tokens["events:write"], current, ONE)).status_code == 201


async def test_twenty_concurrent_appends_with_one_expected_version_leave_one_winner(client, tokens):
    assert (
        await post(
            client, tokens["events:write"], sourced("D-1", "R-1", "2026-01-05T10:00:00Z"), ONE
        )
    ).status_code == 201
    racers = [visit("D-1", "R-1", "2026-01-06T10:00:00Z", expectedversion=1) for _ in range(20)]
    responses = await asyncio.gather(
        *(post(client, tokens["events:write"], e, ONE) for e in racers)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    assert len(await feed(client, tokens["read"])) == 2


async def test_batch_over_the_limits_is_413(client, tokens):
    too_many = [visit("D-1", "R-1", "2026-01-06T10:00:00Z") for _ in range(1001)]
    assert (await post(client, tokens["events:write"], too_many)).status_code == 413
    huge = sourced("D-1", "R-1", "2026-01-05T10:00:00Z")
    huge["data"]["account"]["industry"] = "x" * (1024 * 1024)
    response = await post(client, tokens["events:write"], huge, ONE)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await feed(client, tokens["read"]) == []


async def test_unsupported_media_type_and_malformed_json(client, tokens):
    response = await client.post(
        "/v1/events",
        content=b"x",
        headers={**bearer(tokens["events:write"]), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    response = await client.post(
        "/v1/events",
        content=b"{nope",
        headers={**bearer(tokens["events:write"]), "Content-Type": ONE},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert (await post(client, tokens["events:write"], [])).status_code == 422


async def test_retraction_rules(client, tokens):
    writer = tokens["events:write"]
    target = visit("D-1", "R-1", "2026-01-06T10:00:00Z")
    other = visit("D-2", "R-1", "2026-01-06T10:00:00Z")
    assert (await post(client, writer, [target, other])).status_code == 201
    # Given a retraction of an event of another subject, a missing event, or a retraction
    cases = [
        retraction("D-1", "R-1", "2026-01-07T10:00:00Z", other),
        retraction("D-1", "R-1", "2026-01-07T10:00:00Z", {"source": "crm", "id": "nope"}),
    ]
    for bad in cases:
        assert (await post(client, writer, bad, ONE)).status_code == 422
    first = retraction("D-1", "R-1", "2026-01-07T10:00:00Z", target)
    assert (await post(client, writer, first, ONE)).status_code == 201
    again = retraction("D-1", "R-1", "2026-01-08T10:00:00Z", target)
    assert (await post(client, writer, again, ONE)).status_code == 422
    of_retraction = retraction("D-1", "R-1", "2026-01-08T10:00:00Z", first)
    assert (await post(client, writer, of_retraction, ONE)).status_code == 422
    assert len(await feed(client, tokens["read"])) == 3


async def test_retraction_of_an_event_earlier_in_the_same_batch(client, tokens):
    target = visit("D-1", "R-1", "2026-01-06T10:00:00Z")
    response = await post(
        client,
        tokens["events:write"],
        [target, retraction("D-1", "R-1", "2026-01-06T11:00:00Z", target)],
    )
    assert response.status_code == 201


async def test_rep_team_assignment_subject_rules(client, tokens):
    ok = ce("rep.team_assigned", "rep:R-1", "2026-01-01T00:00:00Z", {"team_id": "T-north"})
    assert (await post(client, tokens["events:write"], ok, ONE)).status_code == 201
    wrong = ce("rep.team_assigned", "D-1", "2026-01-01T00:00:00Z", {"team_id": "T-north"})
    assert (await post(client, tokens["events:write"], wrong, ONE)).status_code == 422


async def test_feed_pages_with_a_cursor(client, tokens):
    batch = [visit("D-1", "R-1", f"2026-01-0{day}T10:00:00Z") for day in range(1, 8)]
    assert (await post(client, tokens["events:write"], batch)).status_code == 201
    page = (await client.get("/v1/events?after=0&limit=3", headers=bearer(tokens["read"]))).json()
    assert [e["position"] for e in page["events"]] == [1, 2, 3] and page["next_after"] == 3
    page = (
        await client.get(
            f"/v1/events?after={page['next_after']}&limit=10", headers=bearer(tokens["read"])
        )
    ).json()
    assert [e["position"] for e in page["events"]] == [4, 5, 6, 7] and page["head"] == 7

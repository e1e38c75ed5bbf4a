"""The read endpoints through HTTP, one behaviour each: deals, deal lists, events, scoreboard, funnel."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from service.api.app import create_app
from service.keys.api_keys import Scope
from service.store.projection.projector import catch_up
from tests.conftest import bearer, make_settings
from tests.factories import ce, qualified, retraction, signed, sourced, visit

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
Q1 = {"from": "2026-01-01", "to": "2026-04-01"}


async def post(client: httpx.AsyncClient, tokens: dict[str, str], *events: dict[str, Any]) -> int:
    """Post one batch; the highest position it was given."""
    response = await client.post(
        "/v1/events",
        content=orjson.dumps(list(events)),
        headers={**bearer(tokens["events:write"]), "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201), response.text
    positions: list[int] = [result["position"] for result in response.json()["results"]]
    return max(positions)


async def get(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str, **params: str
) -> httpx.Response:
    return await client.get(path, params=params, headers=bearer(tokens["read"]))


async def ok(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str, **params: str
) -> dict[str, Any]:
    response = await get(client, tokens, path, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def last_recorded_at(client: httpx.AsyncClient, tokens: dict[str, str]) -> str:
    events = (await ok(client, tokens, "/v1/events", limit="1000"))["events"]
    recorded: str = events[-1]["recorded_at"]
    return recorded


def just_before(instant: str) -> str:
    return (datetime.fromisoformat(instant) - timedelta(microseconds=1)).isoformat()


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404


def deal_ids(page: dict[str, Any]) -> list[str]:
    return [deal["deal_id"] for deal in page["deals"]]


def state_of(body: dict[str, Any]) -> dict[str, Any]:
    """A deal's state without the instants and position of the answer."""
    return {k: v for k, v in body.items() if k not in ("as_of", "known_at", "position")}


def team(rep: str, team_id: str, time: str) -> dict[str, Any]:
    return ce("rep.team_assigned", f"rep:{rep}", time, {"team_id": team_id})


def reassigned(deal: str, by: str, to: str, time: str) -> dict[str, Any]:
    return ce("deal.reassigned", deal, time, {"rep_id": by, "to_rep_id": to})


def deal_event(type_: str, deal: str, time: str, **data: Any) -> dict[str, Any]:
    return ce(type_, deal, time, {"rep_id": "R-1", **data})


# --- GET /v1/deals/{id}: 404s -------------------------------------------------------------------


async def test_an_unknown_deal_is_not_found(client, tokens):
    assert_not_found(await get(client, tokens, "/v1/deals/D-404"))
    assert_not_found(await get(client, tokens, "/v1/deals/D-404/events"))


async def test_a_deal_whose_only_event_is_retracted_is_not_found(client, tokens):
    # Given a lead, and later its retraction
    lead = sourced("D-1", "R-1", "2026-01-05T09:00:00Z")
    await post(client, tokens, lead)
    before_retraction = await last_recorded_at(client, tokens)
    await post(client, tokens, retraction("D-1", "R-1", "2026-01-06T09:00:00Z", lead))
    # Then the deal does not exist now, but did as known before the retraction
    assert_not_found(await get(client, tokens, "/v1/deals/D-1"))
    earlier = await ok(client, tokens, "/v1/deals/D-1", known_at=before_retraction)
    assert (earlier["stage"], earlier["owner_rep_id"]) == ("lead", "R-1")
    # And its events are still there to audit, the lead marked as retracted
    events = (await ok(client, tokens, "/v1/deals/D-1/events"))["events"]
    assert [(e["type"], e["retracted"]) for e in events] == [
        ("lead.sourced", True),
        ("event.retracted", False),
    ]
    assert deal_ids(await ok(client, tokens, "/v1/deals")) == []


async def test_a_deal_before_its_first_event_is_not_found(client, tokens):
    await post(client, tokens, sourced("D-1", "R-1", "2026-01-10T09:00:00+08:00"))
    assert_not_found(await get(client, tokens, "/v1/deals/D-1", as_of="2026-01-10T00:59:59Z"))
    assert_not_found(await get(client, tokens, "/v1/deals/D-1", as_of="2026-01-09"))
    first = await ok(client, tokens, "/v1/deals/D-1", as_of="2026-01-10T01:00:00Z")
    assert first["first_event_at"] == "2026-01-10T01:00:00+00:00"
    assert first["stage_entered_at"] == "2026-01-10T01:00:00+00:00"


async def test_a_deal_as_known_before_it_was_recorded_is_not_found(client, tokens):
    # Given D-1 recorded in a first request and D-2 in a second
    await post(client, tokens, sourced("D-1", "R-1", "2026-01-05T09:00:00Z"))
    first_recorded = await last_recorded_at(client, tokens)
    await post(client, tokens, sourced("D-2", "R-1", "2026-01-01T09:00:00Z"))
    # Then, as known when D-1 was recorded, D-2 does not exist, though it occurred earlier
    await ok(client, tokens, "/v1/deals/D-1", known_at=first_recorded)
    assert_not_found(await get(client, tokens, "/v1/deals/D-2", known_at=first_recorded))
    assert_not_found(await get(client, tokens, "/v1/deals/D-2/events", known_at=first_recorded))
    # And a microsecond before D-1 was recorded, neither did D-1
    assert_not_found(
        await get(client, tokens, "/v1/deals/D-1", known_at=just_before(first_recorded))
    )
    listed = await ok(client, tokens, "/v1/deals", known_at=first_recorded)
    assert deal_ids(listed) == ["D-1"]
    assert listed["known_at"] == first_recorded


# --- GET /v1/deals/{id}: deal.eb_departed ---------------------------------------------------------


async def test_eb_departed_moves_only_an_eb_committed_deal_back(client, tokens):
    eb = {"name": "Ms. Lin", "title": "CFO"}
    await post(
        client,
        tokens,
        # D-1: the EB committed, then left
        qualified("D-1", "R-1", "2026-02-01T09:00:00Z"),
        deal_event("deal.eb_committed", "D-1", "2026-02-10T09:00:00Z", eb=eb),
        deal_event("deal.eb_departed", "D-1", "2026-02-20T09:00:00Z"),
        # D-2: the committee had already approved when the EB left
        qualified("D-2", "R-1", "2026-02-01T09:00:00Z"),
        deal_event("deal.eb_committed", "D-2", "2026-02-10T09:00:00Z", eb=eb),
        deal_event("deal.committee_approved", "D-2", "2026-02-15T09:00:00Z"),
        deal_event("deal.eb_departed", "D-2", "2026-02-20T09:00:00Z"),
    )
    fell_back = await ok(client, tokens, "/v1/deals/D-1")
    assert (fell_back["stage"], fell_back["eb"]) == ("opportunity", None)
    assert fell_back["stage_entered_at"] == "2026-02-20T09:00:00+00:00"
    stayed = await ok(client, tokens, "/v1/deals/D-2")
    assert (stayed["stage"], stayed["eb"]) == ("committed", eb)
    assert stayed["stage_entered_at"] == "2026-02-15T09:00:00+00:00"
    # Before the departure D-1 was still eb_committed
    earlier = await ok(client, tokens, "/v1/deals/D-1", as_of="2026-02-19")
    assert (earlier["stage"], earlier["eb"]) == ("eb_committed", eb)


# --- GET /v1/deals ------------------------------------------------------------------------------


@pytest.fixture
async def five_deals(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    """R-1 and R-3 in North, R-2 in South; R-3 moves to South on 1 March."""
    await post(
        client,
        tokens,
        team("R-1", "North", "2026-01-01T00:00:00Z"),
        team("R-2", "South", "2026-01-01T00:00:00Z"),
        team("R-3", "North", "2026-01-01T00:00:00Z"),
        team("R-3", "South", "2026-03-01T00:00:00Z"),
        sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
        sourced("D-2", "R-1", "2026-01-06T09:00:00Z"),
        qualified("D-2", "R-1", "2026-01-20T09:00:00Z"),
        sourced("D-3", "R-2", "2026-01-07T09:00:00Z"),
        qualified("D-3", "R-2", "2026-01-21T09:00:00Z"),
        sourced("D-4", "R-3", "2026-01-08T09:00:00Z"),
        qualified("D-4", "R-3", "2026-01-22T09:00:00Z"),
        signed("D-4", "R-3", "2026-03-10T09:00:00Z"),
        sourced("D-5", "R-2", "2026-01-09T09:00:00Z"),
        reassigned("D-5", "R-2", "R-1", "2026-02-10T09:00:00Z"),
    )


@pytest.mark.usefixtures("five_deals")
async def test_deals_are_listed_by_id_a_page_at_a_time(client, tokens):
    pages: list[list[str]] = []
    after: list[str | None] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        page = await ok(client, tokens, "/v1/deals", **params)
        pages.append(deal_ids(page))
        after.append(page["next_after"])
        if page["next_after"] is None:
            break
        params["after"] = page["next_after"]
    assert pages == [["D-1", "D-2"], ["D-3", "D-4"], ["D-5"]]
    assert after == ["D-2", "D-4", None]


FILTER_CASES: list[tuple[dict[str, str], list[str]]] = [
    ({"stage": "opportunity"}, ["D-2", "D-3"]),
    ({"stage": "won"}, ["D-4"]),
    ({"owner": "R-1"}, ["D-1", "D-2", "D-5"]),
    ({"owner": "R-1", "stage": "lead"}, ["D-1", "D-5"]),
    ({"team": "North"}, ["D-1", "D-2", "D-5"]),
    ({"team": "South"}, ["D-3", "D-4"]),
    ({"team": "West"}, []),
    # On 15 February R-3 was still in North, and D-4 not yet signed
    ({"team": "North", "as_of": "2026-02-15"}, ["D-1", "D-2", "D-4", "D-5"]),
    ({"stage": "opportunity", "as_of": "2026-02-15"}, ["D-2", "D-3", "D-4"]),
    # Before the reassignment D-5 was R-2's
    ({"owner": "R-2", "as_of": "2026-02-01"}, ["D-3", "D-5"]),
    ({"as_of": "2026-01-06"}, ["D-1", "D-2"]),
]


@pytest.mark.usefixtures("five_deals")
async def test_deals_are_filtered_at_as_of(client, tokens):
    for params, expected in FILTER_CASES:
        page = await ok(client, tokens, "/v1/deals", **params)
        assert deal_ids(page) == expected, params
        assert page["next_after"] is None, params


@pytest.mark.usefixtures("five_deals")
async def test_listed_deals_carry_their_full_state(client, tokens):
    page = await ok(client, tokens, "/v1/deals", owner="R-1", stage="lead")
    assert page["deals"][1] == state_of(await ok(client, tokens, "/v1/deals/D-5"))
    assert page["deals"][1]["owner_rep_id"] == "R-1"


# --- GET /v1/deals/{id}/events ------------------------------------------------------------------


async def test_deal_events_mark_retractions_known_at_the_time_asked(client, tokens):
    # Given three events delivered out of valid-time order, then a retraction of the visit
    lead = sourced("D-1", "R-1", "2026-01-05T09:00:00Z")
    the_visit = visit("D-1", "R-1", "2026-01-20T09:00:00Z")
    call = ce(
        "call.logged",
        "D-1",
        "2026-01-10T09:00:00Z",
        {"rep_id": "R-1", "direction": "outbound", "duration_s": 60},
    )
    await post(client, tokens, the_visit, call, lead)
    before = await last_recorded_at(client, tokens)
    undo = retraction("D-1", "R-1", "2026-02-01T09:00:00Z", the_visit)
    position = await post(client, tokens, undo)
    # When the events are read as known before the retraction and now
    then = (await ok(client, tokens, "/v1/deals/D-1/events", known_at=before))["events"]
    now = (await ok(client, tokens, "/v1/deals/D-1/events"))["events"]
    # Then they come in occurred_at order; only the later answer has the retraction, marked
    assert [(e["type"], e["retracted"], e["retracted_by"]) for e in then] == [
        ("lead.sourced", False, None),
        ("call.logged", False, None),
        ("visit.completed", False, None),
    ]
    assert [(e["type"], e["retracted"]) for e in now] == [
        ("lead.sourced", False),
        ("call.logged", False),
        ("visit.completed", True),
        ("event.retracted", False),
    ]
    assert now[2]["retracted_by"] == {"source": "crm", "id": undo["id"], "position": position}
    assert [e["stream_version"] for e in now] == [3, 2, 1, 4]
    # And the deal's visit count follows
    visits_then = await ok(client, tokens, "/v1/deals/D-1", known_at=before)
    assert (visits_then["fsi_visits"], visits_then["calls"]) == (1, 1)
    assert (await ok(client, tokens, "/v1/deals/D-1"))["fsi_visits"] == 0


# --- GET /v1/scoreboard -------------------------------------------------------------------------


async def test_scoreboard_as_csv_matches_the_json(client, tokens):
    await post(
        client,
        tokens,
        sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T09:00:00Z", kind="FSI"),
        visit("D-1", "R-1", "2026-01-07T09:00:00Z", kind="FUA"),
        signed("D-1", "R-1", "2026-02-01T09:00:00Z", amount="1250.50"),
        sourced("D-2", "R-2", "2026-01-05T09:00:00Z"),
        ce(
            "deal.contract_signed",
            "D-2",
            "2026-03-01T09:00:00Z",
            {"rep_id": "R-2", "amount": "99.99", "currency": "USD", "contract_id": "C-2"},
        ),
        sourced("D-3", "R-2", "2026-03-05T09:00:00Z"),
    )
    board = await ok(client, tokens, "/v1/scoreboard", **Q1)
    by_param = await get(client, tokens, "/v1/scoreboard", **Q1, format="csv")
    by_accept = await client.get(
        "/v1/scoreboard", params=Q1, headers={**bearer(tokens["read"]), "Accept": "text/csv"}
    )
    assert by_param.status_code == by_accept.status_code == 200
    assert by_param.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_param.text == by_accept.text
    assert by_param.headers["X-Funnel-Position"] == str(board["position"])
    lines = list(csv.DictReader(io.StringIO(by_param.text)))
    assert list(lines[0]) == [
        "row",
        "key",
        "rep_name",
        "closed_deals",
        "committed_deals",
        "opportunities",
        "leads",
        "client_visits",
        "fsi_visits",
        "fua_visits",
        "open_leads",
        "open_opportunities",
        "open_committed_deals",
        "calls",
        "connected_calls",
        "talk_time_s",
        "closed_value_TWD",
        "closed_value_USD",
        "working_days",
    ]
    expected = [("row", row["key"], row) for row in board["rows"]] + [
        ("totals", "", board["totals"])
    ]
    assert len(lines) == len(expected) == 3
    for line, (kind, key, numbers) in zip(lines, expected, strict=True):
        assert line == {
            "row": kind,
            "key": key,
            "rep_name": "",
            **{
                name: str(numbers[name])
                for name in (
                    "closed_deals",
                    "committed_deals",
                    "opportunities",
                    "leads",
                    "client_visits",
                    "fsi_visits",
                    "fua_visits",
                )
            },
            "open_leads": str(numbers["open"]["leads"]),
            "open_opportunities": str(numbers["open"]["opportunities"]),
            "open_committed_deals": str(numbers["open"]["committed_deals"]),
            **{name: str(numbers[name]) for name in ("calls", "connected_calls", "talk_time_s")},
            "closed_value_TWD": numbers["closed_value"].get("TWD", "0"),
            "closed_value_USD": numbers["closed_value"].get("USD", "0"),
            # Q1 2026: 64 weekdays, the same on every line
            "working_days": "64",
        }
    assert board["working_days"] == 64.0
    assert board["totals"]["closed_value"] == {"TWD": "1250.50", "USD": "99.99"}
    assert lines[-1]["leads"] == "3"


BAD_SCOREBOARD_QUERIES: list[tuple[dict[str, str], str]] = [
    ({}, "/query/from"),
    ({"from": "2026-01-01"}, "/query/from"),
    ({"to": "2026-04-01"}, "/query/from"),
    ({"period": "2026-Q5"}, "/query/period"),
    ({"period": "2026-13"}, "/query/period"),
    ({"period": "last quarter"}, "/query/period"),
    ({"period": "2026-Q1", "from": "2026-01-01"}, "/query/period"),
    ({"from": "2026-04-01", "to": "2026-04-01"}, "/query/to"),
    ({"from": "2026-04-01", "to": "2026-01-01"}, "/query/to"),
    ({"from": "2026-02-30", "to": "2026-04-01"}, "/query/from"),
    ({"from": "01/01/2026", "to": "2026-04-01"}, "/query/from"),
    ({"period": "2026-Q1", "group_by": "region"}, "/query/group_by"),
    ({"period": "2026-Q1", "known_at": "yesterday"}, "/query/known_at"),
    ({"period": "2026-Q1", "format": "xml"}, "/query/format"),
]


async def test_bad_scoreboard_requests_are_422_problems(client, tokens):
    for params, pointer in BAD_SCOREBOARD_QUERIES:
        response = await get(client, tokens, "/v1/scoreboard", **params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == 422
        assert pointer in [error["pointer"] for error in body["errors"]], (params, body)


BAD_READ_QUERIES: list[tuple[str, dict[str, str], str]] = [
    ("/v1/funnel", {"as_of": "2026-02-30"}, "/query/as_of"),
    ("/v1/deals/D-1", {"known_at": "soon"}, "/query/known_at"),
    ("/v1/deals", {"stage": "negotiation"}, "/query/stage"),
    ("/v1/deals", {"limit": "0"}, "/query/limit"),
]


async def test_bad_read_parameters_are_422_problems(client, tokens):
    for path, params, pointer in BAD_READ_QUERIES:
        response = await get(client, tokens, path, **params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"] == PROBLEM
        errors = response.json()["errors"]
        assert pointer in [error["pointer"] for error in errors], (path, params, errors)


async def test_team_credit_follows_a_rep_who_changes_team_mid_quarter(client, tokens):
    # Given R-1 in North until 15 February, then in South; R-2 in no team at all
    await post(
        client,
        tokens,
        team("R-1", "North", "2025-12-01T00:00:00Z"),
        team("R-1", "South", "2026-02-15T00:00:00Z"),
        sourced("D-1", "R-1", "2026-01-10T09:00:00Z"),
        visit("D-1", "R-1", "2026-02-14T23:59:59Z"),
        visit("D-1", "R-1", "2026-02-15T00:00:00Z", kind="FUA"),
        signed("D-1", "R-1", "2026-03-10T09:00:00Z", amount="500.00"),
        sourced("D-2", "R-1", "2026-01-11T09:00:00Z"),
        sourced("D-3", "R-2", "2026-03-11T09:00:00Z"),
    )
    # When the quarter is grouped by team
    board = await ok(client, tokens, "/v1/scoreboard", period="2026-Q1", group_by="team")
    rows = {row["key"]: row for row in board["rows"]}
    # Then each event goes to R-1's team when it occurred; open deals to the team at the end
    assert list(rows) == ["North", "South", None]
    assert (rows["North"]["leads"], rows["North"]["client_visits"]) == (2, 1)
    assert rows["North"]["fsi_visits"] == 1
    assert rows["North"]["open"] == {"leads": 0, "opportunities": 0, "committed_deals": 0}
    assert (rows["South"]["client_visits"], rows["South"]["fua_visits"]) == (1, 1)
    assert (rows["South"]["closed_deals"], rows["South"]["closed_value"]) == (1, {"TWD": "500.00"})
    assert rows["South"]["open"]["leads"] == 1
    assert (rows[None]["leads"], rows[None]["open"]["leads"]) == (1, 1)
    assert board["totals"]["leads"] == 3


async def test_a_deal_reassigned_between_two_signings_counts_once_in_the_totals(client, tokens):
    # Given D-1 signed by R-1, reassigned to R-2 and signed again by R-2 at a new amount
    await post(
        client,
        tokens,
        sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
        signed("D-1", "R-1", "2026-02-01T09:00:00Z", amount="100.00"),
        reassigned("D-1", "R-1", "R-2", "2026-02-05T09:00:00Z"),
        signed("D-1", "R-2", "2026-02-10T09:00:00Z", amount="150.00"),
    )
    board = await ok(client, tokens, "/v1/scoreboard", **Q1)
    rows = {row["key"]: row for row in board["rows"]}
    # Then each rep is credited with their signing, but the totals count the deal once,
    # at the amount of its latest signing
    assert (rows["R-1"]["closed_deals"], rows["R-1"]["closed_value"]) == (1, {"TWD": "100.00"})
    assert (rows["R-2"]["closed_deals"], rows["R-2"]["closed_value"]) == (1, {"TWD": "150.00"})
    assert (board["totals"]["closed_deals"], board["totals"]["closed_value"]) == (
        1,
        {"TWD": "150.00"},
    )
    everyone = await ok(client, tokens, "/v1/scoreboard", **Q1, group_by="all")
    assert [row["closed_deals"] for row in everyone["rows"]] == [1]


async def test_a_recent_known_at_is_answered_as_known_then_not_as_known_now(client, tokens):
    # Given one lead, and a second lead recorded a moment later
    await post(client, tokens, sourced("D-1", "R-1", "2026-01-05T09:00:00Z"))
    first_recorded = await last_recorded_at(client, tokens)
    await post(client, tokens, sourced("D-2", "R-1", "2026-01-06T09:00:00Z"))
    # When the scoreboard is asked as known now, then as known a moment ago, then now again
    now = await ok(client, tokens, "/v1/scoreboard", period="2026-Q1", group_by="all")
    then = await ok(
        client, tokens, "/v1/scoreboard", period="2026-Q1", group_by="all", known_at=first_recorded
    )
    again = await ok(client, tokens, "/v1/scoreboard", period="2026-Q1", group_by="all")
    # Then each answer counts what was known at its own known_at
    assert (now["totals"]["leads"], then["totals"]["leads"], again["totals"]["leads"]) == (2, 1, 2)
    assert then["known_at"] == first_recorded


# --- consistency: X-Funnel-Position and min_position --------------------------------------------


async def test_every_aggregate_answer_states_the_position_it_reflects(client, tokens):
    position = await post(
        client,
        tokens,
        sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
        sourced("D-2", "R-1", "2026-01-06T09:00:00Z"),
    )
    for path, params in (
        ("/v1/scoreboard", {"period": "2026-Q1"}),
        ("/v1/funnel", {}),
    ):
        response = await get(client, tokens, path, **params)
        assert response.status_code == 200
        assert response.headers["X-Funnel-Position"] == str(position) == "2"
        assert response.json()["position"] == position
    assert (await ok(client, tokens, "/v1/deals"))["position"] == position
    assert (await ok(client, tokens, "/v1/deals/D-1"))["position"] == position


async def test_min_position_waits_until_the_write_is_projected(client, tokens):
    position = await post(client, tokens, sourced("D-1", "R-1", "2026-01-05T09:00:00Z"))
    # An eventual read that names the position it has just written sees that write
    funnel = await ok(
        client, tokens, "/v1/funnel", min_position=str(position), consistency="eventual"
    )
    assert funnel["position"] >= position
    assert funnel["stages"]["lead"] == 1


@pytest.fixture
async def idle_projector(database_url: str) -> AsyncIterator[FastAPI]:
    """An app whose projector does not run, and whose reads wait at most 0.2 s."""
    settings = make_settings(database_url, FUNNEL_RUN_PROJECTOR=False, FUNNEL_READ_WAIT_SECONDS=0.2)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_min_position_not_reached_in_time_is_503_and_eventual_reads_answer_at_once(
    idle_projector: FastAPI,
):
    keys = idle_projector.state.services.keys
    tokens = {
        scope.value: (await keys.create(scope.value, frozenset({scope}))).token
        for scope in (Scope.READ, Scope.EVENTS_WRITE)
    }
    transport = httpx.ASGITransport(app=idle_projector)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        # Given a write the read models have not projected
        position = await post(client, tokens, sourced("D-1", "R-1", "2026-01-05T09:00:00Z"))
        # When a read asks for it, it gives up after the bounded wait
        lagging = await get(client, tokens, "/v1/scoreboard", period="2026-Q1", min_position="1")
        assert lagging.status_code == 503
        assert lagging.headers["content-type"] == PROBLEM
        assert lagging.headers["Retry-After"] == "1"
        assert lagging.json()["wanted_position"] == position
        strong = await get(client, tokens, "/v1/funnel")
        assert strong.status_code == 503
        # And an eventual read answers at once, saying it reflects position 0
        eventual = await get(client, tokens, "/v1/funnel", consistency="eventual")
        assert eventual.status_code == 200
        assert eventual.headers["X-Funnel-Position"] == "0"
        assert eventual.json()["stages"]["lead"] == 0
        # When the read models catch up, the same read succeeds
        await catch_up(idle_projector.state.services.engine, 100)
        caught_up = await get(client, tokens, "/v1/funnel", min_position=str(position))
        assert caught_up.status_code == 200
        assert caught_up.headers["X-Funnel-Position"] == str(position)
        assert caught_up.json()["stages"]["lead"] == 1

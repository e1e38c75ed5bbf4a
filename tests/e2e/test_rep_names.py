"""`rep.profile_set`: reps' names on scoreboard rows and in the dashboard, bitemporally."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from service.projections import compute_scoreboard
from service.projections.knowledge import visible
from service.projections.profiles import profile_history, with_profiles
from tests.conftest import bearer
from tests.factories import ce, retraction, sourced, visit
from tests.histories import recorded_from_feed

pytestmark = pytest.mark.e2e

ORIGIN = {"Origin": "http://testserver"}
Q1 = {"from": "2026-01-01", "to": "2026-04-01"}
FEB = {"from": "2026-02-01", "to": "2026-03-01"}


def profile(rep: str, time: str, event_id: str, **data: Any) -> dict[str, Any]:
    return ce("rep.profile_set", f"rep:{rep}", time, data, id=event_id)


async def post(client: httpx.AsyncClient, tokens: dict[str, str], *events: Any) -> httpx.Response:
    return await client.post(
        "/v1/events",
        content=orjson.dumps(list(events)),
        headers={**bearer(tokens["events:write"]), "Content-Type": "application/json"},
    )


async def names(
    client: httpx.AsyncClient, tokens: dict[str, str], **params: str
) -> dict[str | None, str | None]:
    response = await client.get("/v1/scoreboard", params=params, headers=bearer(tokens["read"]))
    assert response.status_code == 200, response.text
    return {row["key"]: row["rep_name"] for row in response.json()["rows"]}


async def test_rows_by_rep_carry_the_name_at_the_periods_end(client, tokens):
    # Given R-1 named in January and renamed in mid-March, R-2 never named
    given = await post(
        client,
        tokens,
        profile("R-1", "2026-01-05T09:00:00Z", "p1", name="Amy", email="amy@example.com"),
        profile("R-1", "2026-03-15T09:00:00Z", "p2", name="林怡君 Amy"),
        sourced("D-1", "R-1", "2026-02-02T09:00:00Z", id="s1"),
        sourced("D-2", "R-2", "2026-02-03T09:00:00Z", id="s2"),
    )
    assert given.status_code == 201, given.text
    # Then the quarter names R-1 by its March name, February by its January one
    assert await names(client, tokens, **Q1) == {"R-1": "林怡君 Amy", "R-2": None}
    assert await names(client, tokens, **FEB) == {"R-1": "Amy", "R-2": None}
    # And rows by team carry no rep_name
    teams = await client.get(
        "/v1/scoreboard", params={**Q1, "group_by": "team"}, headers=bearer(tokens["read"])
    )
    assert all("rep_name" not in row for row in teams.json()["rows"])
    # And the fold of the feed with the profiles says the same
    feed = await client.get("/v1/events", params={"after": 0}, headers=bearer(tokens["read"]))
    log = [recorded_from_feed(item) for item in feed.json()["events"]]
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    board = compute_scoreboard(log, start=start, end=end, known_at=None, group_by="rep")
    named = with_profiles(board, profile_history(visible(log, as_of=None, known_at=None)))
    body = await client.get("/v1/scoreboard", params=Q1, headers=bearer(tokens["read"]))
    assert body.json()["rows"] == named.to_json()["rows"]
    # And the CSV names each rep right after its key, and the totals line not at all
    text = await client.get(
        "/v1/scoreboard", params={**Q1, "format": "csv"}, headers=bearer(tokens["read"])
    )
    lines = list(csv.DictReader(io.StringIO(text.text)))
    assert list(lines[0])[:3] == ["row", "key", "rep_name"]
    assert [(line["row"], line["key"], line["rep_name"]) for line in lines] == [
        ("row", "R-1", "林怡君 Amy"),
        ("row", "R-2", ""),
        ("totals", "", ""),
    ]


async def test_names_are_as_known_at_and_a_retracted_profile_is_gone(client, tokens):
    first = profile("R-1", "2026-01-05T09:00:00Z", "p1", name="Amy")
    await post(client, tokens, first, sourced("D-1", "R-1", "2026-02-02T09:00:00Z", id="s1"))
    before_rename = datetime.now(UTC).isoformat()
    await post(client, tokens, profile("R-1", "2026-01-06T09:00:00Z", "p2", name="Amy Lin"))
    assert await names(client, tokens, **Q1) == {"R-1": "Amy Lin"}
    assert await names(client, tokens, **Q1, known_at=before_rename) == {"R-1": "Amy"}
    # A retraction of both profiles leaves the rep without a name
    second = {"source": "crm", "id": "p2"}
    undo = [
        retraction("rep:R-1", "R-1", "2026-03-01T00:00:00Z", first, id="u1"),
        retraction("rep:R-1", "R-1", "2026-03-01T00:00:00Z", second, id="u2"),
    ]
    assert (await post(client, tokens, *undo)).status_code == 201
    assert await names(client, tokens, **Q1) == {"R-1": None}
    assert await names(client, tokens, **Q1, known_at=before_rename) == {"R-1": "Amy"}


@pytest.mark.parametrize(
    ("data", "subject", "pointer"),
    [
        ({"name": "Amy\u202eLin"}, "rep:R-1", "/data/name"),
        ({"name": "Amy\nLin"}, "rep:R-1", "/data/name"),
        ({"name": ""}, "rep:R-1", "/data/name"),
        ({"name": "Amy", "email": "not an address"}, "rep:R-1", "/data/email"),
        ({"name": "Amy", "active": "false"}, "rep:R-1", "/data/active"),
        ({"name": "Amy", "nickname": "A"}, "rep:R-1", "/data/nickname"),
        ({}, "rep:R-1", "/data/name"),
        ({"name": "Amy"}, "D-1", "/subject"),
        ({"name": "Amy"}, "team:North", "/subject"),
    ],
)
async def test_a_bad_profile_is_refused_naming_the_field(client, tokens, data, subject, pointer):
    response = await post(
        client, tokens, ce("rep.profile_set", subject, "2026-01-01T00:00:00Z", data)
    )
    assert response.status_code == 422, response.text
    assert pointer in {error["pointer"] for error in response.json()["errors"]}


async def test_the_dashboard_shows_names_and_falls_back_to_the_id(client, tokens):
    await post(
        client,
        tokens,
        profile("R-1", "2025-12-01T09:00:00Z", "p1", name="王小明 <b>"),
        profile("R-2", "2025-12-01T09:00:00Z", "p2", name="Left Early", active=False),
        visit("D-1", "R-1", "2026-02-02T09:00:00Z", id="v1"),
        sourced("D-2", "R-3", "2026-02-03T09:00:00Z", id="s2"),
        visit("D-3", "R-2", "2026-02-04T09:00:00Z", id="v3"),
    )
    signed_in = await client.post(
        "/login", data={"key": tokens["read"], "next": "/"}, headers=ORIGIN
    )
    assert signed_in.status_code == 303, signed_in.text
    page = (await client.get("/", params={"period": "2026-Q1", "as_of": "2026-03-31"})).text
    # Each name leads to the rep's one-on-one for the same view.
    link = '<a class="rep-link" href="/reps/{0}?period=2026-Q1&amp;as_of=2026-03-31" title="{0}">'
    assert link.format("R-1") + "王小明 &lt;b&gt;</a>" in page
    assert link.format("R-3") + "R-3</a>" in page
    # An inactive rep with numbers in the period is still shown, by name
    assert link.format("R-2") + "Left Early</a>" in page

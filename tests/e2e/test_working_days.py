"""The company calendar through HTTP: holidays and make-up days scale targets, `working_days`
on the scoreboard (JSON, CSV, series), known from when they were recorded, and bad
declarations refused."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.conftest import bearer
from tests.factories import ce, retraction

pytestmark = pytest.mark.e2e

FEBRUARY = {"period": "2026-02", "group_by": "rep"}


def _day(day: str, working: bool, event_id: str, **extra: Any) -> dict[str, Any]:
    data = {"date": day, "working": working, **extra}
    return ce("calendar.day_set", "calendar:company", "2026-01-05T00:00:00Z", data, id=event_id)


async def _post(client: Any, tokens: dict[str, str], events: list[dict[str, Any]]) -> None:
    response = await client.post("/v1/events", json=events, headers=bearer(tokens["events:write"]))
    assert response.status_code == 201, response.text


async def _board(client: Any, tokens: dict[str, str], **params: str) -> dict[str, Any]:
    response = await client.get(
        "/v1/scoreboard", params={**FEBRUARY, **params}, headers=bearer(tokens["read"])
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_holiday_and_a_make_up_saturday_scale_a_daily_target(client, tokens):
    # Given a daily target of 8 visits, and February 2026's 20 weekdays
    target = ce(
        "target.set",
        "rep:R-1",
        "2026-01-01T00:00:00Z",
        {"metric": "client_visits", "period": "day", "value": 8},
    )
    await _post(
        client,
        tokens,
        [
            target,
            ce("visit.completed", "D-1", "2026-02-02T09:00:00Z", {"rep_id": "R-1", "kind": "FSI"}),
        ],
    )
    before = await _board(client, tokens)
    # When Friday 27 February is declared a holiday and Saturday 14 February a working day
    holiday = _day("2026-02-27", False, "cal-1", name="Peace Memorial Day")
    await _post(client, tokens, [holiday, _day("2026-02-14", True, "cal-2", name="補班")])
    after = await _board(client, tokens)
    # And, later, the holiday is retracted
    await _post(
        client,
        tokens,
        [retraction("calendar:company", "R-1", "2026-01-06T00:00:00Z", holiday, id="cal-3")],
    )
    undone = await _board(client, tokens)
    # Then the month has 20 working days, then 20 (-1 +1), then 21; the target follows
    assert (before["working_days"], before["rows"][0]["targets"]) == (
        20.0,
        {"client_visits": 160.0},
    )
    assert after["working_days"] == 20.0
    assert undone["working_days"] == 21.0
    assert undone["rows"][0]["targets"] == {"client_visits": 168.0}
    # And as known before the calendar was recorded, February had its 20 weekdays only
    known = await _board(client, tokens, known_at=before["known_at"])
    assert known["working_days"] == 20.0
    # And the week of the holiday, asked before its retraction, had 4 working days
    week = await _board(client, tokens, period="2026-W09", known_at=after["known_at"])
    assert week["working_days"] == 4.0


async def test_working_days_in_the_csv_and_the_series(client, tokens):
    # Given Saturday 14 February declared a working day and a visit that makes a row
    await _post(
        client,
        tokens,
        [
            _day("2026-02-14", True, "cal-1"),
            ce("visit.completed", "D-1", "2026-02-10T09:00:00Z", {"rep_id": "R-1", "kind": "FUA"}),
        ],
    )
    read = bearer(tokens["read"])
    # When February is asked as CSV, and as a weekly series
    response = await client.get(
        "/v1/scoreboard", params={**FEBRUARY, "format": "csv"}, headers=read
    )
    series = await client.get(
        "/v1/scoreboard/series", params={**FEBRUARY, "interval": "week"}, headers=read
    )
    # Then every CSV line states the month's 21 working days
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert {line["working_days"] for line in lines} == {"21"}
    # And each week of the series its own: Sunday 1 February alone (none), a whole week,
    # 9-15 February with the Saturday, and two whole weeks
    periods = series.json()["periods"]
    assert [period["working_days"] for period in periods] == [0.0, 5.0, 6.0, 5.0, 5.0]
    series_csv = await client.get(
        "/v1/scoreboard/series",
        params={**FEBRUARY, "interval": "week", "format": "csv"},
        headers=read,
    )
    weeks = {
        line["period_from"][:10]: line["working_days"]
        for line in csv.DictReader(io.StringIO(series_csv.text))
    }
    assert weeks["2026-02-09"] == "6"


@pytest.mark.parametrize(
    ("subject", "data", "pointer"),
    [
        ("calendar:team", {"date": "2026-02-27", "working": False}, "/subject"),
        ("D-1", {"date": "2026-02-27", "working": False}, "/subject"),
        ("calendar:company", {"date": "2026-02-30", "working": False}, "/data/date"),
        ("calendar:company", {"date": "2026-02-27", "working": "no"}, "/data/working"),
        ("calendar:company", {"date": "2026-02-27"}, "/data/working"),
        ("calendar:company", {"date": "2026-02-27", "working": True, "kind": "x"}, "/data/kind"),
    ],
)
async def test_a_bad_declaration_is_refused_and_stores_nothing(
    client, tokens, subject, data, pointer
):
    event = ce("calendar.day_set", subject, "2026-01-01T00:00:00Z", data)
    response = await client.post("/v1/events", json=event, headers=bearer(tokens["events:write"]))
    assert response.status_code == 422
    assert pointer in {error["pointer"] for error in response.json()["errors"]}
    feed = await client.get("/v1/events", params={"after": 0}, headers=bearer(tokens["read"]))
    assert feed.json()["events"] == []


async def test_deal_events_may_not_use_the_calendar_subject(client, tokens):
    event = ce(
        "lead.sourced",
        "calendar:company",
        "2026-01-01T00:00:00Z",
        {"rep_id": "R-1", "account": {"name": "A"}, "channel": "web"},
    )
    response = await client.post("/v1/events", json=event, headers=bearer(tokens["events:write"]))
    assert response.status_code == 422


async def test_the_calendar_of_a_period_lists_its_declared_days_and_working_days(client, tokens):
    # Given a holiday and a make-up Saturday in February, and a holiday in March
    await _post(
        client,
        tokens,
        [
            _day("2026-02-27", False, "cal-1", name="Peace Memorial Day"),
            _day("2026-02-14", True, "cal-2"),
            _day("2026-03-02", False, "cal-3"),
        ],
    )
    read = bearer(tokens["read"])
    # When February's calendar is asked, and its scoreboard
    response = await client.get("/v1/calendar", params={"period": "2026-02"}, headers=read)
    board = await _board(client, tokens)
    # Then it lists February's two declared dates, in order, and the scoreboard's working days
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workweek"] == ["mon", "tue", "wed", "thu", "fri"]
    assert body["working_days"] == board["working_days"] == 20.0
    assert [(day["date"], day["working"], day["name"]) for day in body["days"]] == [
        ("2026-02-14", True, None),
        ("2026-02-27", False, "Peace Memorial Day"),
    ]
    # And as known before anything was declared, nothing is listed
    before = await client.get(
        "/v1/calendar",
        params={"period": "2026-02", "known_at": "2020-01-01T00:00:00Z"},
        headers=read,
    )
    assert before.json()["days"] == [] and before.json()["working_days"] == 20.0
    # And a bad period is a problem naming it
    bad = await client.get("/v1/calendar", params={"period": "2026-13"}, headers=read)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")

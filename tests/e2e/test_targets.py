"""Targets, priorities and attainment through HTTP, equal to the pure fold on generated plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.events.recorded import RecordedEvent
from service.projections import compute_scoreboard, visible
from service.projections.attainment import with_targets
from service.projections.scoreboard import GroupBy
from service.projections.targets import METRICS, plan
from service.projections.teams import team_history
from tests import databases
from tests.conftest import bearer
from tests.e2e.live_service import LiveService, live_service
from tests.factories import ce, retraction, sourced, visit
from tests.histories import INSTANTS, PERIODS, REPS, TEAMS, Delivery, deliveries, known_ats

pytestmark = pytest.mark.e2e

PROPERTY = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SUBJECTS = (*(f"rep:{rep}" for rep in REPS), *(f"team:{team}" for team in TEAMS))


CALENDAR_DAYS = (
    date(2026, 1, 1),  # a Thursday: a holiday
    date(2026, 1, 3),  # a Saturday: a make-up working day
    date(2026, 3, 31),
    date(2026, 4, 1),
    date(2026, 4, 4),
    date(2026, 4, 11),
    date(2026, 6, 30),
)
"""Dates around the periods' edges, weekdays and Saturdays, for holidays and make-up days."""


def _calendar_day(draw: st.DrawFn, time: str, index: int) -> dict[str, Any]:
    day = draw(st.sampled_from(CALENDAR_DAYS)) + timedelta(days=draw(st.integers(0, 1)) * 7)
    data = {"date": day.isoformat(), "working": draw(st.booleans()), "name": "declared"}
    return ce("calendar.day_set", "calendar:company", time, data, id=f"c-{index}")


@st.composite
def plan_batches(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """Target, priority and calendar events, some retracted, in a few batches."""
    events: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 10))):
        time = draw(st.sampled_from(INSTANTS)).isoformat()
        if draw(st.integers(0, 3)) == 0:
            events.append(_calendar_day(draw, time, index))
            continue
        if draw(st.integers(0, 4)) == 0:
            team = draw(st.sampled_from(TEAMS))
            metrics = draw(st.permutations(METRICS))[: draw(st.integers(1, 5))]
            data: dict[str, Any] = {"metrics": list(metrics)}
            events.append(ce("team.priorities_set", f"team:{team}", time, data, id=f"p-{index}"))
            continue
        data = {
            "metric": draw(st.sampled_from(METRICS)),
            "period": draw(st.sampled_from(["day", "week", "month", "quarter"])),
            "value": draw(st.sampled_from(["0", "3", "12.5", "40"])),
        }
        events.append(
            ce("target.set", draw(st.sampled_from(SUBJECTS)), time, data, id=f"t-{index}")
        )
    undone = [
        retraction(event["subject"], "R-1", event["time"], event, id=f"u-{index}")
        for index, event in enumerate(events)
        if draw(st.integers(0, 3)) == 0
    ]
    cut = draw(st.integers(0, len(events)))
    return [batch for batch in (events[:cut], events[cut:], undone) if batch]


def expected(
    log: list[RecordedEvent], start: datetime, end: datetime, known_at: datetime, group_by: GroupBy
) -> dict[str, Any]:
    """The scoreboard with targets from the pure folds over the raw log."""
    board = compute_scoreboard(log, start=start, end=end, known_at=known_at, group_by=group_by)
    known = visible(log, as_of=None, known_at=known_at)
    return with_targets(board, plan(known), team_history(known), UTC).to_json()


async def _assert_scoreboards(
    service: LiveService, log: list[RecordedEvent], known_at: datetime, data: st.DataObject
) -> None:
    start, end = data.draw(st.sampled_from(PERIODS), label="period")
    for group_by in ("rep", "team", "all"):
        params = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "known_at": known_at.isoformat(),
        }
        body = await service.get("/v1/scoreboard", group_by=group_by, **params)
        folded = expected(log, start, end, known_at, group_by)
        assert (body["rows"], body["totals"]) == (folded["rows"], folded["totals"]), group_by
        assert body["working_days"] == folded["working_days"]


@PROPERTY
@given(delivery=deliveries(max_events=12), batches=plan_batches(), data=st.data())
async def test_targets_on_the_scoreboard_equal_the_pure_fold(
    test_server: databases.TestServer,
    delivery: Delivery,
    batches: list[list[dict[str, Any]]],
    data: st.DataObject,
) -> None:
    # Given a service holding deals, team changes, targets and priorities, some retracted
    async with live_service(test_server) as service:
        for batch in [*delivery, *batches]:
            await service.post(list(batch))
        log = await service.log()
        # When the scoreboard is asked at some moments of knowledge
        moments = data.draw(st.lists(st.sampled_from(known_ats(log)), min_size=1, max_size=3))
        for known_at in [*moments, datetime.now(UTC)]:
            # Then its rows and totals, targets included, equal the pure fold's
            await _assert_scoreboards(service, log, known_at, data)


async def test_a_monthly_target_over_a_quarter(client, tokens):
    # Given R-1 in team North, a monthly target of 4 leads, a weekly one of 2 visits, priorities
    events = [
        ce("rep.team_assigned", "rep:R-1", "2025-12-01T00:00:00Z", {"team_id": "North"}),
        ce(
            "target.set",
            "rep:R-1",
            "2025-12-20T00:00:00Z",
            {"metric": "leads", "period": "month", "value": 4},
        ),
        ce(
            "target.set",
            "rep:R-1",
            "2025-12-20T00:00:00Z",
            {"metric": "client_visits", "period": "week", "value": "2"},
        ),
        ce(
            "team.priorities_set",
            "team:North",
            "2025-12-01T00:00:00Z",
            {"metrics": ["client_visits", "committed_deals"]},
        ),
        *(sourced(f"D-{n}", "R-1", f"2026-02-0{n}T10:00:00Z") for n in range(1, 7)),
        visit("D-1", "R-1", "2026-02-03T10:00:00Z"),
    ]
    response = await client.post("/v1/events", json=events, headers=bearer(tokens["events:write"]))
    assert response.status_code == 201, response.text

    # When the first quarter's scoreboard is asked
    board = (
        await client.get(
            "/v1/scoreboard", params={"period": "2026-Q1"}, headers=bearer(tokens["read"])
        )
    ).json()

    # Then the monthly target counts three times; the weekly one 12 whole weeks and two partial
    # ones of 2 working days of 5 each (1-2 January, 30-31 March): 12.8 times
    row = board["rows"][0]
    weekly = 2 * Fraction(64, 5)
    assert row["targets"] == {"leads": 12.0, "client_visits": float(round(weekly, 4))}
    assert row["attainment"] == {"leads": 0.5, "client_visits": float(round(1 / weekly, 4))}
    assert board["working_days"] == 64.0
    assert row["priorities"] == ["client_visits", "committed_deals"]
    assert board["totals"]["targets"] == row["targets"]
    listed = (
        await client.get(
            "/v1/targets", params={"as_of": "2026-01-01"}, headers=bearer(tokens["read"])
        )
    ).json()
    assert [t["metric"] for t in listed["targets"]] == ["client_visits", "leads"]
    assert listed["priorities"][0]["metrics"] == ["client_visits", "committed_deals"]


@pytest.mark.parametrize(
    ("subject", "data", "pointer"),
    [
        ("D-1", {"metric": "leads", "period": "month", "value": 1}, "/subject"),
        ("rep:R-1", {"metric": "meetings", "period": "month", "value": 1}, "/data/metric"),
        ("team:N", {"metric": "leads", "period": "year", "value": 1}, "/data/period"),
        ("rep:R-1", {"metric": "leads", "period": "day", "value": -1}, "/data/value"),
    ],
)
async def test_an_invalid_target_is_refused(client, tokens, subject, data, pointer):
    event = ce("target.set", subject, "2026-01-01T00:00:00Z", data)
    response = await client.post("/v1/events", json=event, headers=bearer(tokens["events:write"]))
    assert response.status_code == 422
    assert pointer in {error["pointer"] for error in response.json()["errors"]}


async def test_deal_events_may_not_use_a_team_subject(client, tokens):
    event = sourced("team:North", "R-1", "2026-01-01T00:00:00Z")
    response = await client.post("/v1/events", json=event, headers=bearer(tokens["events:write"]))
    assert response.status_code == 422

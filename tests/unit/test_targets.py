"""Targets and priorities: the fold over valid and transaction time, and scaling to a period."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.events.envelope import EnvelopeError, parse_event
from service.projections import compute_scoreboard, visible
from service.projections.attainment import period_weights, with_targets
from service.projections.scoreboard import GroupBy
from service.projections.targets import Plan, plan, priorities_at, target_at
from service.projections.teams import team_history
from tests.factories import ce
from tests.unit.factory import EventLog, at

TAIPEI = ZoneInfo("Asia/Taipei")


def test_the_latest_target_set_by_an_instant_is_in_force():
    # Given two targets for R-1's leads, the second set later and then retracted
    log = EventLog()
    log.add(
        "target.set", "rep:R-1", "2026-01-01T00:00:00Z", metric="leads", period="month", value="4"
    )
    later = log.add(
        "target.set", "rep:R-1", "2026-02-01T00:00:00Z", metric="leads", period="week", value="1"
    )
    log.add(
        "event.retracted",
        "rep:R-1",
        "2026-03-01T00:00:00Z",
        event_source="crm",
        event_id=later.id,
        reason="x",
    )
    before_retraction = later.recorded_at

    # When the plan is folded as known before and after the retraction
    then = plan(visible(log.events, as_of=None, known_at=before_retraction))
    now = plan(visible(log.events, as_of=None, known_at=None))

    # Then the target in force depends on both times
    def period(known: Plan, instant: str) -> str | None:
        target = target_at(known, "rep:R-1", "leads", at(instant))
        return None if target is None else target.period

    assert period(then, "2026-01-15T00:00:00Z") == "month"
    assert period(then, "2026-02-01T00:00:00Z") == "week"
    assert period(now, "2026-02-15T00:00:00Z") == "month"
    assert target_at(now, "rep:R-1", "leads", at("2025-12-31T00:00:00Z")) is None
    assert target_at(now, "rep:R-1", "opportunities", at("2026-02-15T00:00:00Z")) is None


def test_priorities_of_a_team():
    log = EventLog()
    log.add("team.priorities_set", "team:North", "2026-01-01T00:00:00Z", metrics=["leads"])
    log.add(
        "team.priorities_set",
        "team:North",
        "2026-02-01T00:00:00Z",
        metrics=["client_visits", "leads"],
    )
    known = plan(log.events)
    assert priorities_at(known, "North", at("2026-01-20T00:00:00Z")) == ("leads",)
    assert priorities_at(known, "North", at("2026-02-01T00:00:00Z")) == ("client_visits", "leads")
    assert priorities_at(known, "South", at("2026-02-01T00:00:00Z")) is None
    assert priorities_at(known, None, at("2026-02-01T00:00:00Z")) is None


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # A quarter: 90 days, about 12.86 weeks, 3 months, 1 quarter
        (
            "2026-01-01",
            "2026-04-01",
            {"day": 90, "week": Fraction(90, 7), "month": 3, "quarter": 1},
        ),
        # March: 31 days, 31/7 weeks, 1 month, 31/90 of Q1
        (
            "2026-03-01",
            "2026-04-01",
            {"day": 31, "week": Fraction(31, 7), "month": 1, "quarter": Fraction(31, 90)},
        ),
        # An ISO week across two months and quarters: 2 March days and 5 April days
        (
            "2026-03-30",
            "2026-04-06",
            {
                "day": 7,
                "week": 1,
                "month": Fraction(2, 31) + Fraction(5, 30),
                "quarter": Fraction(2, 90) + Fraction(5, 91),
            },
        ),
    ],
)
def test_period_weights(start, end, expected):
    weights = period_weights(
        datetime.fromisoformat(start).replace(tzinfo=UTC),
        datetime.fromisoformat(end).replace(tzinfo=UTC),
        UTC,
    )
    assert weights == expected


def test_partial_days_count_pro_rata_in_the_company_time_zone():
    # 12:00 to 18:00 Taipei time is a quarter of a Taipei day
    weights = period_weights(at("2026-01-05T04:00:00Z"), at("2026-01-05T10:00:00Z"), TAIPEI)
    assert weights["day"] == Fraction(1, 4)
    assert weights["week"] == Fraction(1, 28)


def test_with_targets_scales_sums_and_computes_attainment():
    # Given two reps of team North with monthly lead targets, and a team target
    log = EventLog()
    for rep in ("R-1", "R-2"):
        log.add("rep.team_assigned", f"rep:{rep}", "2026-01-01T00:00:00Z", team_id="North")
        log.add(
            "target.set",
            f"rep:{rep}",
            "2026-01-01T00:00:00Z",
            metric="leads",
            period="month",
            value="2",
        )
    log.add(
        "target.set",
        "team:North",
        "2026-01-01T00:00:00Z",
        metric="leads",
        period="quarter",
        value="9",
    )
    log.add(
        "target.set",
        "rep:R-2",
        "2026-01-01T00:00:00Z",
        metric="client_visits",
        period="day",
        value="0",
    )
    for deal in ("D-1", "D-2", "D-3"):
        log.add("lead.sourced", deal, "2026-02-01T00:00:00Z", rep_id="R-1")
    log.add("visit.completed", "D-1", "2026-02-01T00:00:00Z", rep_id="R-2")
    start, end = at("2026-01-01T00:00:00Z"), at("2026-04-01T00:00:00Z")
    known = visible(log.events, as_of=None, known_at=None)

    def board(group_by: GroupBy) -> dict[str, Any]:
        raw = compute_scoreboard(log.events, start=start, end=end, known_at=None, group_by=group_by)
        return with_targets(raw, plan(known), team_history(known), UTC).to_json()

    # When the quarter is grouped by rep, team and all
    by_rep, by_team, overall = board("rep"), board("team"), board("all")

    # Then rows carry their own scaled targets; totals sum them; a zero target has no attainment
    r1, r2 = by_rep["rows"]
    assert r1["targets"] == {"leads": 6.0} and r1["attainment"] == {"leads": 0.5}
    assert r2["targets"] == {"leads": 6.0, "client_visits": 0.0}
    assert r2["attainment"] == {"leads": 0.0, "client_visits": None}
    assert by_rep["totals"]["targets"] == {"leads": 12.0, "client_visits": 0.0}
    assert by_team["rows"][0]["targets"] == {"leads": 9.0}
    assert by_team["rows"][0]["attainment"] == {"leads": 0.3333}
    assert overall["rows"][0]["targets"] == {"leads": 9.0, "client_visits": 0.0}


@pytest.mark.parametrize(
    ("event_type", "subject", "data"),
    [
        ("target.set", "rep:", {"metric": "leads", "period": "day", "value": 1}),
        ("target.set", "D-1", {"metric": "leads", "period": "day", "value": 1}),
        ("team.priorities_set", "rep:R-1", {"metrics": ["leads"]}),
        ("team.priorities_set", "team:N", {"metrics": ["leads", "leads"]}),
        ("team.priorities_set", "team:N", {"metrics": []}),
        ("lead.contacted", "team:N", {"rep_id": "R-1", "method": "call"}),
    ],
)
def test_invalid_plan_events(event_type, subject, data):
    with pytest.raises(EnvelopeError):
        parse_event(ce(event_type, subject, "2026-01-01T00:00:00Z", data))


def test_a_valid_target_keeps_its_value_exact():
    event = parse_event(
        ce(
            "target.set",
            "team:N",
            "2026-01-01T00:00:00Z",
            {"metric": "leads", "period": "week", "value": 12.5},
        )
    )
    assert event.data_json() == {"metric": "leads", "period": "week", "value": "12.5"}


def test_a_daily_target_counts_the_working_days_of_the_company_calendar():
    # Given a daily visit target, a Friday holiday and a make-up Saturday in February 2026
    log = EventLog()
    log.add(
        "target.set",
        "rep:R-1",
        "2026-01-01T00:00:00Z",
        metric="client_visits",
        period="day",
        value="8",
    )
    log.add(
        "calendar.day_set",
        "calendar:company",
        "2026-01-05T00:00:00Z",
        date="2026-02-27",
        working=False,
        name="Peace Memorial Day",
    )
    log.add(
        "calendar.day_set",
        "calendar:company",
        "2026-01-05T00:00:00Z",
        date="2026-02-14",
        working=True,
    )
    # and a holiday declared only after February ended (not in force for it)
    log.add(
        "calendar.day_set",
        "calendar:company",
        "2026-03-02T00:00:00Z",
        date="2026-02-26",
        working=False,
    )
    log.add("visit.completed", "D-1", "2026-02-02T00:00:00Z", rep_id="R-1")
    start, end = at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z")
    known = visible(log.events, as_of=None, known_at=None)
    raw = compute_scoreboard(log.events, start=start, end=end, known_at=None, group_by="rep")
    board = with_targets(raw, plan(known), team_history(known), UTC).to_json()
    # Then February has 20 weekdays, less the holiday, plus the Saturday: 20 working days
    assert board["working_days"] == 20.0
    assert board["rows"][0]["targets"] == {"client_visits": 160.0}
    assert board["rows"][0]["attainment"] == {"client_visits": 0.0062}
    # and with every day of the week working, the same declarations give 28 - 1 = 27
    everyday = with_targets(raw, plan(known), team_history(known), UTC, frozenset(range(7)))
    assert everyday.to_json()["working_days"] == 27.0

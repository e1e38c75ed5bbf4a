"""The demo generator: deterministic, valid, realistic (pure, no I/O)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.demo import SOURCE, TEAMS, generate, last_ended_quarter, quarter_bounds
from service.events.envelope import parse_event
from service.events.recorded import RecordedEvent
from service.events.vocabulary import EVENT_TYPES
from service.projections.scoreboard import compute_funnel, compute_scoreboard

TAIPEI = ZoneInfo("Asia/Taipei")
AFTER = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def quarter() -> list[dict[str, Any]]:
    return generate(seed=11, quarter="2026-Q1", zone=TAIPEI)


def recorded(events: list[dict[str, Any]]) -> list[RecordedEvent]:
    """The events as the store would record them, in load order."""
    out = []
    for position, raw in enumerate(events, start=1):
        event = parse_event(raw, now=AFTER)
        out.append(
            RecordedEvent(
                position=position,
                subject=event.subject,
                stream_version=0,
                source=event.source,
                id=event.id,
                type=event.type,
                occurred_at=event.time,
                recorded_at=AFTER,
                data=event.data_json(),
            )
        )
    return out


def test_same_seed_same_events_other_seed_other_events(quarter):
    assert generate(seed=11, quarter="2026-Q1", zone=TAIPEI) == quarter
    other = generate(seed=12, quarter="2026-Q1", zone=TAIPEI)
    assert other != quarter
    assert not {e["id"] for e in other} & {e["id"] for e in quarter}


def test_every_event_is_valid_with_a_fixed_unique_key(quarter):
    events = [parse_event(raw, now=AFTER) for raw in quarter]
    assert {e.source for e in events} == {SOURCE}
    assert len({e.key for e in events}) == len(events)


def test_a_quarter_of_about_300_deals_uses_the_whole_vocabulary(quarter):
    types = Counter(e["type"] for e in quarter)
    assert types["lead.sourced"] == 300
    assert set(types) == set(EVENT_TYPES)
    assert types["visit.completed"] > types["deal.qualified"] > types["deal.contract_signed"] > 0
    amounts = [e["data"] for e in quarter if e["type"] == "deal.qualified"]
    assert {d["currency"] for d in amounts} == {"TWD"}


def test_deals_share_accounts_and_a_few_are_key_accounts(quarter):
    deals = Counter(e["data"]["account"]["id"] for e in quarter if e["type"] == "lead.sourced")
    assert 50 < len(deals) < 100  # about three deals per account
    assert max(deals.values()) >= 5
    marks = [e["data"] for e in quarter if e["type"] == "account.key_set"]
    keyed = {mark["account"] for mark in marks if mark["key"]}
    assert len(keyed) == 5 and keyed <= set(deals)
    assert [mark["account"] for mark in marks if not mark["key"]] == [marks[4]["account"]]


def test_times_are_office_hours_in_the_company_zone(quarter):
    for raw in quarter:
        moment = datetime.fromisoformat(raw["time"])
        assert moment.utcoffset() == TAIPEI.utcoffset(moment)
        if raw["type"] != "event.retracted":
            assert moment.weekday() < 5
            assert 9 <= moment.hour <= 17


def test_two_teams_with_every_rep_and_one_move(quarter):
    teams = [e for e in quarter if e["type"] == "rep.team_assigned"]
    assert {e["data"]["team_id"] for e in teams} == set(TEAMS)
    assert Counter(e["subject"] for e in teams).most_common(1)[0][1] == 2
    reps = {e["data"]["rep_id"] for e in quarter if e["subject"].startswith("D")}
    assert reps == {e["subject"].removeprefix("rep:") for e in teams}


def test_some_events_arrive_late_and_one_is_retracted(quarter):
    deal_events = [e for e in quarter if not e["subject"].startswith("rep:")]
    times = [datetime.fromisoformat(e["time"]) for e in deal_events]
    assert times != sorted(times), "late events are loaded after later ones"
    retraction = quarter[-1]
    assert retraction["type"] == "event.retracted"
    target = next(e for e in quarter if e["id"] == retraction["data"]["event_id"])
    assert target["subject"] == retraction["subject"]
    assert quarter.index(target) < quarter.index(retraction)


def test_the_quarter_folds_into_every_stage(quarter):
    events = recorded(quarter)
    start, end = quarter_bounds("2026-Q1", TAIPEI)
    stages = compute_funnel(events, as_of=end, known_at=None, rep_id=None)
    assert all(count > 0 for count in stages.values()), stages
    board = compute_scoreboard(events, start=start, end=end, known_at=None, group_by="team")
    assert {row.key for row in board.rows} == set(TEAMS)
    assert board.totals.closed_deals == stages["won"] - _won_before(events, start)
    assert board.totals.closed_value["TWD"] > 0
    # Calls: some outbound, fewer connected, talk time only from those
    totals = board.totals
    assert totals.calls > totals.connected_calls > 0 and totals.talk_time_s > 0


def test_the_phone_sales_team_watches_calls_with_a_target(quarter):
    priorities = {
        e["subject"]: e["data"]["metrics"] for e in quarter if e["type"] == "team.priorities_set"
    }
    assert priorities == {
        f"team:{TEAMS[0]}": ["committed_deals", "client_visits"],
        f"team:{TEAMS[1]}": ["calls", "leads", "opportunities"],
    }
    targets = [e for e in quarter if e["type"] == "target.set" and e["data"]["metric"] == "calls"]
    assert f"team:{TEAMS[1]}" in {e["subject"] for e in targets}
    assert f"team:{TEAMS[0]}" not in {e["subject"] for e in targets}


def _won_before(events: list[RecordedEvent], start: datetime) -> int:
    return len(
        {e.subject for e in events if e.type == "deal.contract_signed" and e.occurred_at < start}
    )


def test_every_demo_quarter_lies_in_the_quarter_or_its_pipeline():
    events = generate(seed=1, reps=3, quarter="2025-Q4", deals=40)
    start, end = quarter_bounds("2025-Q4", UTC)
    for raw in events:
        assert datetime.fromisoformat(raw["time"]) < end
    assert sum(e["type"] == "lead.sourced" for e in events) == 40
    assert any(datetime.fromisoformat(e["time"]) >= start for e in events)


@pytest.mark.parametrize(
    ("today", "quarter"),
    [(date(2026, 11, 26), "2026-Q3"), (date(2026, 1, 5), "2025-Q4"), (date(2026, 4, 1), "2026-Q1")],
)
def test_the_default_quarter_is_the_last_that_ended(today, quarter):
    assert last_ended_quarter(today) == quarter


@pytest.mark.parametrize(
    "kwargs", [{"reps": 1}, {"deals": 0}, {"quarter": "2026-03"}, {"quarter": "2026-Q5"}]
)
def test_invalid_demo_requests_are_refused(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        generate(**kwargs)


@pytest.mark.parametrize("name", ["2026-Q1", "2025-Q4", "2026-Q3"])
def test_the_quarter_has_a_holiday_and_a_make_up_saturday(name):
    # Given a demo quarter and its company calendar
    start, end = quarter_bounds(name, TAIPEI)
    declared = {
        date.fromisoformat(e["data"]["date"]): e["data"]["working"]
        for e in generate(seed=3, quarter=name, zone=TAIPEI)
        if e["type"] == "calendar.day_set"
    }
    # Then one weekday of the quarter is off and one Saturday of it is worked
    first, after = start.astimezone(TAIPEI).date(), end.astimezone(TAIPEI).date()
    assert all(first <= day < after for day in declared)
    assert sorted((day.weekday(), working) for day, working in declared.items()) == [
        (4, False),
        (5, True),
    ]

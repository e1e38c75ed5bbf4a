"""Team membership of reps over valid time."""

from service.projections import team_at, team_history, visible
from tests.unit.factory import EventLog, at


def test_team_at_follows_assignments_over_valid_time() -> None:
    log = EventLog()
    log.team("R-1", "North", "2026-01-01T00:00:00+00:00")
    log.team("R-1", "South", "2026-03-01T00:00:00+00:00")
    history = team_history(visible(log.events, as_of=None, known_at=None))
    assert team_at(history, "R-1", at("2025-12-31T23:59:59+00:00")) is None
    assert team_at(history, "R-1", at("2026-01-01T00:00:00+00:00")) == "North"
    assert team_at(history, "R-1", at("2026-02-28T23:59:59+00:00")) == "North"
    assert team_at(history, "R-1", at("2026-03-01T00:00:00+00:00")) == "South"


def test_unknown_or_missing_rep_has_no_team() -> None:
    log = EventLog()
    log.team("R-1", "North", "2026-01-01T00:00:00+00:00")
    history = team_history(log.events)
    assert team_at(history, "R-2", at("2026-03-01T00:00:00+00:00")) is None
    assert team_at(history, None, at("2026-03-01T00:00:00+00:00")) is None


def test_assignments_are_ordered_by_time_then_position_not_arrival() -> None:
    log = EventLog()
    log.team("R-1", "Late", "2026-03-01T00:00:00+00:00")
    log.team("R-1", "Early", "2026-01-01T00:00:00+00:00")
    log.team(
        "R-1",
        "Tie-first",
        "2026-02-01T00:00:00+00:00",
    )
    log.team("R-1", "Tie-second", "2026-02-01T00:00:00+00:00")
    history = team_history(log.events)
    assert [team for _, team in history["R-1"]] == ["Early", "Tie-first", "Tie-second", "Late"]
    assert team_at(history, "R-1", at("2026-02-15T00:00:00+00:00")) == "Tie-second"


def test_deal_events_are_ignored() -> None:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-01-01T00:00:00+00:00")
    assert team_history(log.events) == {}


def test_a_retracted_assignment_does_not_count() -> None:
    log = EventLog()
    log.team("R-1", "North", "2026-01-01T00:00:00+00:00")
    wrong = log.team("R-1", "South", "2026-02-01T00:00:00+00:00")
    log.retract(wrong, "2026-02-02T00:00:00+00:00", recorded_at="2026-07-01T00:00:00+00:00")
    now = team_history(visible(log.events, as_of=None, known_at=None))
    before = team_history(visible(log.events, as_of=None, known_at=at("2026-06-30T00:00:00+00:00")))
    assert team_at(now, "R-1", at("2026-03-01T00:00:00+00:00")) == "North"
    assert team_at(before, "R-1", at("2026-03-01T00:00:00+00:00")) == "South"

"""The analytics on small, hand-made histories."""

from __future__ import annotations

from service.projections import analytics
from service.projections.analytics import Window
from tests.unit.factory import EventLog, at

Q1 = Window(at("2026-01-01T00:00:00Z"), at("2026-04-01T00:00:00Z"), at("2026-12-31T00:00:00Z"))


def _paths(log: EventLog, window: Window = Q1) -> dict[str, analytics.StagePath]:
    return analytics.stage_paths(log.events, as_of=window.as_of, known_at=None)


def test_a_stage_path_skips_owner_changes_and_the_stageless_start():
    log = EventLog()
    log.add("visit.completed", "D-1", "2026-01-01T00:00:00Z")
    log.add("lead.sourced", "D-1", "2026-01-02T00:00:00Z")
    log.add("deal.reassigned", "D-1", "2026-01-03T00:00:00Z")
    log.add("deal.qualified", "D-1", "2026-01-04T00:00:00Z")
    assert _paths(log)["D-1"] == (
        (at("2026-01-02T00:00:00Z"), "lead"),
        (at("2026-01-04T00:00:00Z"), "opportunity"),
    )


def test_time_in_stage_interpolates_percentiles():
    # Given four leads that waited 1, 2, 3 and 10 days before qualifying
    log = EventLog()
    for deal, days in (("A", 1), ("B", 2), ("C", 3), ("D", 10)):
        log.add("lead.sourced", deal, "2026-02-01T00:00:00Z")
        log.add("deal.qualified", deal, f"2026-02-{1 + days:02d}T00:00:00Z")
    stages = analytics.time_in_stage(_paths(log), Q1)
    day = 86400.0
    assert stages["lead"] == {"stays": 4, "median_seconds": 2.5 * day, "p90_seconds": 7.9 * day}
    assert stages["opportunity"] == {"stays": 0, "median_seconds": None, "p90_seconds": None}


def test_only_stays_that_ended_in_the_window_count():
    log = EventLog()
    log.add("lead.sourced", "A", "2025-12-01T00:00:00Z")
    log.add("deal.qualified", "A", "2025-12-05T00:00:00Z")
    log.add("lead.sourced", "B", "2026-03-30T00:00:00Z")
    log.add("deal.qualified", "B", "2026-04-02T00:00:00Z")
    assert analytics.time_in_stage(_paths(log), Q1)["lead"]["stays"] == 0


def test_conversion_counts_a_skipped_stage_as_reached():
    # Given a lead signed without qualifying, a lead lost, and a lead sourced before the cohort
    log = EventLog()
    log.add("lead.sourced", "A", "2026-01-10T00:00:00Z")
    log.add("deal.contract_signed", "A", "2026-01-20T00:00:00Z")
    log.add("lead.sourced", "B", "2026-02-10T00:00:00Z")
    log.add("deal.lost", "B", "2026-02-20T00:00:00Z")
    log.add("lead.sourced", "C", "2025-11-10T00:00:00Z")
    cohort = analytics.sourced_cohort(log.events, Q1, None)
    result = analytics.conversion(_paths(log), cohort)
    assert cohort == {"A", "B"}
    assert result["reached"] == {
        "lead": 2,
        "opportunity": 1,
        "eb_committed": 1,
        "committed": 1,
        "won": 1,
    }
    assert result["steps"][0]["rate"] == 0.5
    assert result["outcome"] == {"open": 0, "won": 1, "lost": 1, "disqualified": 0}


def test_win_rate_and_waterfall_movements():
    # Given, before Q1, four open deals; in Q1 one advances, one falls back, one is won, one stays
    log = EventLog()
    for deal in ("A", "B", "C", "D"):
        log.add("lead.sourced", deal, "2025-12-01T00:00:00Z")
    log.add("deal.eb_committed", "B", "2025-12-02T00:00:00Z")
    log.add("deal.lost", "E", "2025-12-03T00:00:00Z")
    log.add("deal.qualified", "A", "2026-01-05T00:00:00Z")
    log.add("deal.eb_departed", "B", "2026-01-06T00:00:00Z")
    log.add("deal.contract_signed", "C", "2026-01-07T00:00:00Z")
    log.add("deal.qualified", "E", "2026-01-08T00:00:00Z")
    log.add("lead.sourced", "F", "2026-02-01T00:00:00Z")
    log.add("deal.disqualified", "F", "2026-02-02T00:00:00Z")
    paths = _paths(log)

    flow = analytics.waterfall(paths, Q1)
    assert flow == {
        "start_open": 4,
        "new": 1,
        "advanced": 1,
        "moved_back": 1,
        "still_open": 1,
        "won": 1,
        "lost": 0,
        "disqualified": 0,
        "reopened": 1,
        "new_by_stage": {
            "lead": 0,
            "opportunity": 0,
            "eb_committed": 0,
            "committed": 0,
            "won": 0,
            "lost": 0,
            "disqualified": 1,
        },
        "end_open": 4,
    }
    assert analytics.win_rate(paths, Q1) == {
        "won": 1,
        "lost": 0,
        "disqualified": 1,
        "win_rate": 1.0,
    }


def test_an_as_of_before_the_window_sees_nothing_move():
    log = EventLog()
    log.add("lead.sourced", "A", "2025-12-01T00:00:00Z")
    log.add("deal.qualified", "A", "2026-01-05T00:00:00Z")
    early = Window(Q1.start, Q1.end, at("2025-12-15T00:00:00Z"))
    flow = analytics.waterfall(_paths(log, early), early)
    assert (flow["start_open"], flow["still_open"], flow["advanced"], flow["end_open"]) == (
        1,
        1,
        0,
        1,
    )
    assert analytics.win_rate(_paths(log, early), early)["win_rate"] is None

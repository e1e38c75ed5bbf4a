"""The funnel: deals by stage at as_of (contract §5)."""

from service.projections import STAGES, compute_funnel
from tests.unit.factory import EventLog, at

ZERO = dict.fromkeys(STAGES, 0)


def test_every_stage_is_present() -> None:
    assert compute_funnel([], as_of=None, known_at=None, rep_id=None) == ZERO


def test_deals_are_counted_by_their_stage_at_as_of() -> None:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00")
    log.add("deal.qualified", "D-1", "2026-03-05T00:00:00+00:00")
    log.add("deal.qualified", "D-2", "2026-03-01T00:00:00+00:00")
    log.add("deal.contract_signed", "D-2", "2026-03-02T00:00:00+00:00")
    log.add("visit.completed", "D-3", "2026-03-01T00:00:00+00:00")  # stage null: not counted
    log.team("R-1", "North", "2026-01-01T00:00:00+00:00")  # not a deal
    funnel = compute_funnel(
        log.events, as_of=at("2026-03-03T00:00:00+00:00"), known_at=None, rep_id=None
    )
    assert funnel == {**ZERO, "lead": 1, "won": 1}
    later = compute_funnel(log.events, as_of=None, known_at=None, rep_id=None)
    assert later == {**ZERO, "opportunity": 1, "won": 1}


def test_rep_filter_is_the_owner_at_as_of() -> None:
    log = EventLog()
    log.add("lead.sourced", "D-1", "2026-03-01T00:00:00+00:00", rep_id="R-1")
    log.add("deal.reassigned", "D-1", "2026-03-10T00:00:00+00:00", rep_id="R-1", to_rep_id="R-2")
    log.add("deal.qualified", "D-1", "2026-03-11T00:00:00+00:00", rep_id="R-1")
    early = at("2026-03-05T00:00:00+00:00")
    assert compute_funnel(log.events, as_of=early, known_at=None, rep_id="R-1") == {
        **ZERO,
        "lead": 1,
    }
    assert compute_funnel(log.events, as_of=early, known_at=None, rep_id="R-2") == ZERO
    # R-1 still acts on the deal later, but R-2 owns it
    assert compute_funnel(log.events, as_of=None, known_at=None, rep_id="R-1") == ZERO
    assert compute_funnel(log.events, as_of=None, known_at=None, rep_id="R-2") == {
        **ZERO,
        "opportunity": 1,
    }


def test_known_at_and_retractions_apply() -> None:
    log = EventLog()
    log.add(
        "lead.sourced", "D-1", "2026-03-01T00:00:00+00:00", recorded_at="2026-03-01T00:00:00+00:00"
    )
    lost = log.add(
        "deal.lost", "D-1", "2026-03-02T00:00:00+00:00", recorded_at="2026-03-02T00:00:00+00:00"
    )
    log.retract(lost, "2026-03-03T00:00:00+00:00", recorded_at="2026-03-03T00:00:00+00:00")
    before = compute_funnel(
        log.events, as_of=None, known_at=at("2026-03-02T12:00:00+00:00"), rep_id=None
    )
    assert before == {**ZERO, "lost": 1}
    assert compute_funnel(log.events, as_of=None, known_at=None, rep_id=None) == {**ZERO, "lead": 1}

"""The valid-time timeline of a deal (stage and owner between instants)."""

from service.projections import Segment, Stage, segment_at, timeline, visible
from tests.unit.factory import EventLog, at

D = "D-1"


def segments(log: EventLog) -> tuple[Segment, ...]:
    return timeline(visible(log.events, as_of=None, known_at=None))


def test_no_events_no_timeline() -> None:
    assert timeline([]) == ()


def test_segments_follow_stage_and_owner_changes() -> None:
    log = EventLog()
    log.add("lead.sourced", D, "2026-03-01T00:00:00+00:00", rep_id="R-1")
    log.add("deal.qualified", D, "2026-03-02T00:00:00+00:00")
    log.add("deal.reassigned", D, "2026-03-03T00:00:00+00:00", to_rep_id="R-2")
    assert segments(log) == (
        Segment(
            at("2026-03-01T00:00:00+00:00"), at("2026-03-02T00:00:00+00:00"), Stage.LEAD, "R-1"
        ),
        Segment(
            at("2026-03-02T00:00:00+00:00"),
            at("2026-03-03T00:00:00+00:00"),
            Stage.OPPORTUNITY,
            "R-1",
        ),
        Segment(at("2026-03-03T00:00:00+00:00"), None, Stage.OPPORTUNITY, "R-2"),
    )


def test_events_without_change_merge_into_one_segment() -> None:
    # Given a stageless start, then visits and a re-qualification that change neither stage nor owner
    log = EventLog()
    log.add("visit.completed", D, "2026-03-01T00:00:00+00:00")
    log.add("deal.qualified", D, "2026-03-02T00:00:00+00:00")
    log.add("visit.completed", D, "2026-03-03T00:00:00+00:00")
    log.add("deal.qualified", D, "2026-03-04T00:00:00+00:00")
    assert segments(log) == (
        Segment(at("2026-03-01T00:00:00+00:00"), at("2026-03-02T00:00:00+00:00"), None, None),
        Segment(at("2026-03-02T00:00:00+00:00"), None, Stage.OPPORTUNITY, None),
    )


def test_a_boundary_takes_the_state_after_all_events_of_its_instant() -> None:
    # Given a qualification and a loss at the same instant, after a lead
    log = EventLog()
    log.add("lead.sourced", D, "2026-03-01T00:00:00+00:00")
    log.add("deal.qualified", D, "2026-03-02T00:00:00+00:00")
    log.add("deal.lost", D, "2026-03-02T00:00:00+00:00")
    # Then no zero-length opportunity segment exists
    assert [(s.stage, s.valid_from) for s in segments(log)] == [
        (Stage.LEAD, at("2026-03-01T00:00:00+00:00")),
        (Stage.LOST, at("2026-03-02T00:00:00+00:00")),
    ]


def test_changes_that_cancel_out_within_an_instant_leave_no_boundary() -> None:
    log = EventLog()
    log.add("deal.eb_committed", D, "2026-03-01T00:00:00+00:00")
    log.add("deal.eb_departed", D, "2026-03-02T00:00:00+00:00")
    log.add("deal.eb_committed", D, "2026-03-02T00:00:00+00:00")
    assert segments(log) == (
        Segment(at("2026-03-01T00:00:00+00:00"), None, Stage.EB_COMMITTED, None),
    )


def test_segment_at_uses_half_open_intervals() -> None:
    log = EventLog()
    log.add("lead.sourced", D, "2026-03-01T00:00:00+00:00")
    log.add("deal.qualified", D, "2026-03-02T00:00:00+00:00")
    found = segments(log)
    assert segment_at(found, at("2026-02-28T23:59:59+00:00")) is None
    first = segment_at(found, at("2026-03-01T23:59:59.999999+00:00"))
    assert first is not None
    assert first.stage == Stage.LEAD
    assert first.covers(at("2026-03-01T00:00:00+00:00"))
    assert not first.covers(at("2026-03-02T00:00:00+00:00"))
    second = segment_at(found, at("2026-03-02T00:00:00+00:00"))
    assert second is not None
    assert second.stage == Stage.OPPORTUNITY
    assert second.covers(at("2030-01-01T00:00:00+00:00"))

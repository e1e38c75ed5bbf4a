"""`visible`: which events exist at (as_of, known_at), and in which order."""

from service.events.recorded import RecordedEvent
from service.projections import visible
from tests.unit.factory import EventLog, at


def ids(events: list[RecordedEvent]) -> list[str]:
    return [event.id for event in events]


def test_sorted_by_occurred_at_not_by_arrival() -> None:
    # Given events that arrived in the reverse order of when they happened
    log = EventLog()
    late = log.add("call.logged", "D-1", "2026-03-03T00:00:00+00:00")
    early = log.add("call.logged", "D-1", "2026-03-01T00:00:00+00:00")
    # Then they come back in valid-time order
    assert visible(log.events, as_of=None, known_at=None) == [early, late]


def test_ties_on_occurred_at_keep_the_stored_order() -> None:
    log = EventLog()
    second = log.add("call.logged", "D-1", "2026-03-01T00:00:00+00:00", position=20)
    first = log.add("call.logged", "D-1", "2026-03-01T00:00:00+00:00", position=10)
    assert visible(log.events, as_of=None, known_at=None) == [first, second]


def test_offsets_do_not_matter_only_the_instant() -> None:
    log = EventLog()
    taipei = log.add("call.logged", "D-1", "2026-03-01T08:00:00+08:00", position=2)
    utc = log.add("call.logged", "D-1", "2026-03-01T00:30:00+00:00", position=1)
    assert visible(log.events, as_of=None, known_at=None) == [taipei, utc]


def test_as_of_is_inclusive() -> None:
    log = EventLog()
    on_time = log.add("call.logged", "D-1", "2026-03-01T00:00:00+00:00")
    log.add("call.logged", "D-1", "2026-03-01T00:00:00.000001+00:00")
    assert visible(log.events, as_of=at("2026-03-01T00:00:00+00:00"), known_at=None) == [on_time]


def test_known_at_is_inclusive_and_hides_later_records() -> None:
    log = EventLog()
    known = log.add(
        "call.logged", "D-1", "2026-03-01T00:00:00+00:00", recorded_at="2026-03-05T00:00:00+00:00"
    )
    log.add(
        "call.logged",
        "D-1",
        "2026-02-01T00:00:00+00:00",
        recorded_at="2026-03-05T00:00:00.000001+00:00",
    )
    assert visible(log.events, as_of=None, known_at=at("2026-03-05T00:00:00+00:00")) == [known]


def test_a_known_retraction_removes_its_target_and_itself() -> None:
    log = EventLog()
    kept = log.add("call.logged", "D-1", "2026-03-01T00:00:00+00:00")
    target = log.add("call.logged", "D-1", "2026-03-02T00:00:00+00:00")
    log.retract(target, "2026-03-03T00:00:00+00:00")
    assert visible(log.events, as_of=None, known_at=None) == [kept]


def test_a_retraction_recorded_after_known_at_is_ignored() -> None:
    # Given a retraction recorded on 03-10 of an event recorded on 03-02
    log = EventLog()
    target = log.add(
        "call.logged", "D-1", "2026-03-01T00:00:00+00:00", recorded_at="2026-03-02T00:00:00+00:00"
    )
    log.retract(target, "2026-03-01T00:00:00+00:00", recorded_at="2026-03-10T00:00:00+00:00")
    # When asked as known before the retraction, Then the event is still there
    assert visible(log.events, as_of=None, known_at=at("2026-03-09T00:00:00+00:00")) == [target]
    # When asked as known after it, Then the event is gone
    assert visible(log.events, as_of=None, known_at=at("2026-03-10T00:00:00+00:00")) == []


def test_the_retraction_time_is_irrelevant_at_every_valid_time() -> None:
    # Given a retraction whose own `time` is long after the target and after as_of
    log = EventLog()
    target = log.add("call.logged", "D-1", "2026-03-01T00:00:00+00:00")
    log.retract(target, "2026-04-01T00:00:00+00:00")
    # Then the target is gone even at a valid time before the retraction's `time`
    assert visible(log.events, as_of=at("2026-03-15T00:00:00+00:00"), known_at=None) == []


def test_a_retraction_with_an_earlier_time_than_its_target_still_removes_it() -> None:
    log = EventLog()
    target = log.add("call.logged", "D-1", "2026-03-10T00:00:00+00:00")
    log.retract(target, "2026-03-01T00:00:00+00:00")
    assert visible(log.events, as_of=None, known_at=None) == []


def test_a_retraction_matches_source_and_id() -> None:
    log = EventLog()
    target = log.add("call.logged", "D-1", "2026-03-01T00:00:00+00:00")
    other = log.add("call.logged", "D-1", "2026-03-02T00:00:00+00:00")
    retraction = log.retract(target, "2026-03-03T00:00:00+00:00")
    wrong_source = log.add(
        "event.retracted",
        "D-1",
        "2026-03-03T00:00:00+00:00",
        event_source="phone",
        event_id=other.id,
        reason="x",
    )
    assert ids(visible(log.events, as_of=None, known_at=None)) == [other.id]
    assert retraction.id != wrong_source.id

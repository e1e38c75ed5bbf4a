"""deal_history: the incremental bitemporal history equals the timeline recomputed at every step."""

from dataclasses import replace
from datetime import timedelta
from itertools import groupby

from hypothesis import given
from hypothesis import strategies as st

from service.events.recorded import RecordedEvent
from service.projections import deal_state_at, timeline, visible
from service.projections.bitemporal import DealHistory, KnownSegment, believed_at, deal_history
from tests.unit.factory import RECORDED_BASE, EventLog
from tests.unit.test_properties import FAST, INSTANTS, event_logs


def batched(log: EventLog, cuts: list[bool]) -> list[RecordedEvent]:
    """The log with consecutive events sharing a `recorded_at` where `cuts` says so."""
    step, events = 0, []
    for index, event in enumerate(log.events):
        if index and cuts[index % len(cuts)]:
            step += 1
        events.append(replace(event, recorded_at=RECORDED_BASE + timedelta(minutes=step)))
    return events


def naive_history(stream: list[RecordedEvent]) -> set[tuple[object, ...]]:
    """The timeline recomputed from scratch after each step of knowledge."""
    believed: dict[object, object] = {}
    rows: set[tuple[object, ...]] = set()
    known: list[RecordedEvent] = []
    for recorded_at, step in groupby(stream, key=lambda e: e.recorded_at):
        known.extend(step)
        now = set(timeline(visible(known, as_of=None, known_at=None)))
        for segment in [s for s in believed if s not in now]:
            rows.add((segment, believed.pop(segment), recorded_at))
        for segment in now:
            believed.setdefault(segment, recorded_at)
    rows.update((segment, since, None) for segment, since in believed.items())
    return rows


def as_rows(history: list[KnownSegment]) -> set[tuple[object, ...]]:
    return {(row.segment, row.known_from, row.known_to) for row in history}


@FAST
@given(event_logs(deals=["D-1"], teams=False), st.lists(st.booleans(), min_size=1, max_size=8))
def test_incremental_history_equals_recomputing_each_step(log, cuts):
    stream = [e for e in batched(log, cuts) if e.subject == "D-1"]
    assert as_rows(deal_history(stream)) == naive_history(stream)


@FAST
@given(event_logs(deals=["D-1"], teams=False), st.lists(st.booleans(), min_size=1, max_size=8))
def test_history_answers_like_the_fold_at_every_as_of_and_known_at(log, cuts):
    stream = [e for e in batched(log, cuts) if e.subject == "D-1"]
    history = deal_history(stream)
    for known_at in sorted({e.recorded_at for e in stream}):
        for as_of in INSTANTS:
            state = deal_state_at("D-1", stream, as_of=as_of, known_at=known_at)
            segment = believed_at(history, as_of, known_at)
            expected = None if state is None else (state.stage, state.owner_rep_id)
            assert (None if segment is None else (segment.stage, segment.owner_rep_id)) == expected


@FAST
@given(
    event_logs(deals=["D-1"], teams=False),
    st.lists(st.booleans(), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_a_history_resumed_part_by_part_equals_the_history_of_the_whole(log, cuts, splits):
    """The projector's resumed histories: cut anywhere, even inside one step of knowledge."""
    stream = [e for e in batched(log, cuts) if e.subject == "D-1"]
    history = DealHistory()
    part: list[RecordedEvent] = []
    for index, event in enumerate(stream):
        part.append(event)
        if splits[index % len(splits)]:
            history.extend(part)
            assert history.segments() == deal_history(stream[: index + 1])
            part = []
    history.extend(part)
    assert len(history) == len(stream)
    assert history.segments() == deal_history(stream)


@FAST
@given(
    event_logs(deals=["D-1"], teams=False),
    st.lists(st.booleans(), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_a_history_without_its_stream_refuses_what_needs_it_and_else_equals_the_whole(
    log, cuts, splits
):
    """As the projector keeps them: a refused part is folded again from the whole stream."""
    stream = [e for e in batched(log, cuts) if e.subject == "D-1"]
    history = DealHistory()
    taken, part = 0, []
    for index, event in enumerate(stream):
        part.append(event)
        if splits[index % len(splits)] or index == len(stream) - 1:
            if not history.extend(part):
                assert len(history) == taken, "a refused part takes nothing in"
                history = DealHistory()
                history.extend(stream[: index + 1])
            history.drop_stream()
            taken, part = index + 1, []
            assert len(history) == taken
            assert history.segments() == deal_history(stream[:taken])

"""Properties over random event logs: timeline agrees with fold; arrival order never matters."""

from datetime import UTC, datetime, timedelta
from functools import reduce
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.events.recorded import RecordedEvent
from service.projections import (
    GroupBy,
    ScoreboardFold,
    Stage,
    compute_funnel,
    compute_scoreboard,
    deal_state_at,
    evolve,
    fold,
    is_deal,
    segment_at,
    team_history,
    timeline,
    visible,
)
from service.projections.scoreboard import settled_before
from tests.unit.factory import DEFAULT_DATA, RECORDED_BASE, EventLog

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
# Few instants, on and around the period's bounds, so that ties and boundaries are common.
INSTANTS = [
    datetime(2026, 2, 28, 12, tzinfo=UTC),
    START,
    datetime(2026, 3, 10, tzinfo=UTC),
    datetime(2026, 3, 10, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 20, tzinfo=UTC),
    END - timedelta(microseconds=1),
    END,
    datetime(2026, 4, 2, tzinfo=UTC),
]
REPS = ["R-1", "R-2", "R-3"]
DEALS = ["D-1", "D-2", "D-3"]
MONEY = {"deal.qualified", "deal.contract_signed", "deal.amount_revised"}
GROUPS: tuple[GroupBy, ...] = ("rep", "team", "all")
FAST = settings(max_examples=150, deadline=None, database=None)


@st.composite
def event_logs(
    draw: st.DrawFn,
    deals: list[str] = DEALS,
    *,
    retractions: bool = True,
    teams: bool = True,
    instants: list[datetime] = INSTANTS,
) -> EventLog:
    """A log as the store would hold it: arrival order unrelated to valid time."""
    log = EventLog()
    live: list[RecordedEvent] = []
    actions = ["event"] * 5 + ["retract"] * retractions + ["team"] * teams
    for _ in range(draw(st.integers(0, 30))):
        action = draw(st.sampled_from(actions))
        when = draw(st.sampled_from(instants))
        if action == "retract" and live:
            target = live.pop(draw(st.integers(0, len(live) - 1)))
            log.retract(target, when)
        elif action == "team":
            log.team(draw(st.sampled_from(REPS)), draw(st.sampled_from(["North", "South"])), when)
        else:
            live.append(_deal_event(draw, log, draw(st.sampled_from(deals)), when))
    return log


def _deal_event(draw: st.DrawFn, log: EventLog, deal: str, when: datetime) -> RecordedEvent:
    type_ = draw(st.sampled_from(sorted(DEFAULT_DATA)))
    data: dict[str, Any] = {"rep_id": draw(st.sampled_from(REPS))}
    if type_ == "visit.completed":
        data["kind"] = draw(st.sampled_from(["FSI", "FUA"]))
    if type_ == "deal.reassigned":
        data["to_rep_id"] = draw(st.sampled_from(REPS))
    if type_ in MONEY:
        data["amount"] = draw(st.sampled_from(["1.00", "2.5", "300", "0.125"]))
        data["currency"] = draw(st.sampled_from(["TWD", "USD"]))
    return log.add(type_, deal, when, **data)


known_ats = st.one_of(
    st.none(), st.integers(0, 40).map(lambda minutes: RECORDED_BASE + timedelta(minutes=minutes))
)
any_instant = st.one_of(
    st.sampled_from(INSTANTS),
    st.datetimes(datetime(2026, 2, 27), datetime(2026, 4, 3), timezones=st.just(UTC)),
)


@FAST
@given(event_logs(["D-1"], teams=False), st.lists(any_instant, min_size=1, max_size=10))
def test_timeline_agrees_with_fold_at_every_instant(
    log: EventLog, instants: list[datetime]
) -> None:
    ordered = visible(log.events, as_of=None, known_at=None)
    segments = timeline(ordered)
    for instant in [*instants, *INSTANTS]:
        # Given the fold of every event up to the instant, and the timeline's segment then
        state = fold("D-1", [event for event in ordered if event.occurred_at <= instant])
        segment = segment_at(segments, instant)
        # Then both say the same about existence, stage and owner
        if state is None:
            assert segment is None
        else:
            assert segment is not None
            assert segment.covers(instant)
            assert (segment.stage, segment.owner_rep_id) == (state.stage, state.owner_rep_id)


@FAST
@given(event_logs(["D-1"], teams=False))
def test_timeline_segments_are_contiguous_and_merged(log: EventLog) -> None:
    segments = timeline(visible(log.events, as_of=None, known_at=None))
    for before, after in pairwise(segments):
        assert before.valid_to == after.valid_from
        assert before.valid_from < after.valid_from
        assert (before.stage, before.owner_rep_id) != (after.stage, after.owner_rep_id)
    if segments:
        assert segments[-1].valid_to is None


@FAST
@given(event_logs(["D-1"], teams=False))
def test_fold_is_evolve_repeated(log: EventLog) -> None:
    ordered = visible(log.events, as_of=None, known_at=None)
    assert reduce(evolve, ordered, None) == fold("D-1", ordered)


@FAST
@given(st.data(), event_logs(), known_ats, st.sampled_from([*INSTANTS, None]))
def test_deal_state_never_depends_on_arrival_order(
    data: st.DataObject, log: EventLog, known_at: datetime | None, as_of: datetime | None
) -> None:
    shuffled = data.draw(st.permutations(log.events))
    for deal in DEALS:
        expected = deal_state_at(deal, log.events, as_of=as_of, known_at=known_at)
        assert deal_state_at(deal, shuffled, as_of=as_of, known_at=known_at) == expected
        own = visible([e for e in shuffled if e.subject == deal], as_of=as_of, known_at=known_at)
        assert timeline(own) == timeline(
            visible([e for e in log.events if e.subject == deal], as_of=as_of, known_at=known_at)
        )


@FAST
@given(st.data(), event_logs(), known_ats, st.sampled_from(GROUPS))
def test_scoreboard_and_funnel_never_depend_on_arrival_order(
    data: st.DataObject, log: EventLog, known_at: datetime | None, group_by: GroupBy
) -> None:
    shuffled = data.draw(st.permutations(log.events))
    expected = compute_scoreboard(
        log.events, start=START, end=END, known_at=known_at, group_by=group_by
    )
    actual = compute_scoreboard(
        shuffled, start=START, end=END, known_at=known_at, group_by=group_by
    )
    assert actual.to_json() == expected.to_json()
    for rep_id in (None, "R-1"):
        funnel = compute_funnel(log.events, as_of=START, known_at=known_at, rep_id=rep_id)
        assert compute_funnel(shuffled, as_of=START, known_at=known_at, rep_id=rep_id) == funnel


@FAST
@given(event_logs())
def test_a_known_retraction_is_as_if_neither_event_was_ever_stored(log: EventLog) -> None:
    retractions = [event for event in log.events if event.type == "event.retracted"]
    gone = {(r.data["event_source"], r.data["event_id"]) for r in retractions}
    cleaned = [e for e in log.events if e.type != "event.retracted" and e.key not in gone]
    for group_by in GROUPS:
        with_retractions = compute_scoreboard(
            log.events, start=START, end=END, known_at=None, group_by=group_by
        )
        without = compute_scoreboard(
            cleaned, start=START, end=END, known_at=None, group_by=group_by
        )
        assert with_retractions.to_json()["rows"] == without.to_json()["rows"]


@FAST
@given(event_logs(), known_ats, st.sampled_from(GROUPS))
def test_rows_add_up_to_the_totals(
    log: EventLog, known_at: datetime | None, group_by: GroupBy
) -> None:
    result = compute_scoreboard(
        log.events, start=START, end=END, known_at=known_at, group_by=group_by
    )
    totals = result.totals
    # Visits and open deals go to exactly one key; deals may go to several, so rows may exceed totals
    assert sum(row.numbers.client_visits for row in result.rows) == totals.client_visits
    assert sum(row.numbers.fsi_visits for row in result.rows) == totals.fsi_visits
    assert sum(row.numbers.open.leads for row in result.rows) == totals.open.leads
    assert sum(row.numbers.open.opportunities for row in result.rows) == totals.open.opportunities
    assert (
        sum(row.numbers.open.committed_deals for row in result.rows) == totals.open.committed_deals
    )
    assert sum(row.numbers.closed_deals for row in result.rows) >= totals.closed_deals
    assert sum(row.numbers.leads for row in result.rows) >= totals.leads
    assert all(not row.numbers.is_zero() for row in result.rows)
    keys = [row.key for row in result.rows]
    assert keys == sorted(keys, key=lambda key: (key is None, key or ""))


@FAST
@given(event_logs(), known_ats)
def test_group_by_all_is_the_totals_and_open_matches_the_funnel(
    log: EventLog, known_at: datetime | None
) -> None:
    result = compute_scoreboard(log.events, start=START, end=END, known_at=known_at, group_by="all")
    assert [row.numbers for row in result.rows] in ([], [result.totals])
    funnel = compute_funnel(
        log.events, as_of=END - timedelta(microseconds=1), known_at=known_at, rep_id=None
    )
    assert result.totals.open.leads == funnel[Stage.LEAD]
    assert result.totals.open.committed_deals == funnel[Stage.COMMITTED]
    assert result.totals.open.opportunities == (
        funnel[Stage.OPPORTUNITY] + funnel[Stage.EB_COMMITTED] + funnel[Stage.COMMITTED]
    )


@FAST
@given(st.data(), event_logs(), known_ats, st.sampled_from((*GROUPS, "account")))
def test_the_scoreboard_folded_a_few_streams_at_a_time_is_the_whole_fold(
    data: st.DataObject, log: EventLog, known_at: datetime | None, group_by: GroupBy
) -> None:
    # Given the log cut into groups of whole streams, the groups and their events shuffled
    subjects = sorted({event.subject for event in log.events})
    group_of = {subject: data.draw(st.integers(0, 3)) for subject in subjects}
    groups: dict[int, list[RecordedEvent]] = {}
    for event in data.draw(st.permutations(log.events)):
        groups.setdefault(group_of[event.subject], []).append(event)
    # When they are folded one group at a time (rows by team given the whole team history)
    teams = team_history(visible(log.events, as_of=None, known_at=known_at))
    board = ScoreboardFold(
        start=START,
        end=END,
        known_at=known_at,
        group_by=group_by,
        teams=teams if group_by == "team" else None,
    )
    for events in groups.values():
        board.add(events)
    # Then the scoreboard is the one folded from the whole log at once
    expected = compute_scoreboard(
        log.events, start=START, end=END, known_at=known_at, group_by=group_by
    )
    assert board.scoreboard().to_json() == expected.to_json()


BEFORE_START = [datetime(2026, 2, day, tzinfo=UTC) for day in (10, 20, 27)]
MOSTLY_BEFORE = [*BEFORE_START * 3, *INSTANTS]
"""Valid times most of them before the period, so that many streams settle before it."""
MANY_DEALS = [f"D-{number}" for number in range(1, 7)]


def _selected(
    events: list[RecordedEvent], end: datetime, known_at: datetime | None
) -> list[RecordedEvent]:
    """What a period [.., end) selects as known at `known_at` (`period_events`): the deal
    events that occurred before `end`, and the retractions of those."""
    known = [e for e in events if known_at is None or e.recorded_at <= known_at]
    chosen = [e for e in known if e.type != "event.retracted" and e.occurred_at < end]
    keys = {(e.source, e.id) for e in chosen}
    retractions = [
        e
        for e in known
        if e.type == "event.retracted" and (e.data["event_source"], e.data["event_id"]) in keys
    ]
    return [e for e in chosen + retractions if is_deal(e.subject)]


@FAST
@given(
    event_logs(MANY_DEALS, instants=MOSTLY_BEFORE),
    known_ats,
    st.sampled_from(GROUPS),
)
def test_a_stream_settled_before_the_period_adds_nothing_to_its_scoreboard(
    log: EventLog, known_at: datetime | None, group_by: GroupBy
) -> None:
    # Given the streams the period's selection shows settled before its start
    streams: dict[str, list[RecordedEvent]] = {}
    for event in _selected(log.events, END, known_at):
        streams.setdefault(event.subject, []).append(event)
    settled = {subject for subject, stream in streams.items() if settled_before(stream, START)}
    # When the scoreboard is folded without them
    rest = [event for event in log.events if event.subject not in settled]
    board = compute_scoreboard(rest, start=START, end=END, known_at=known_at, group_by=group_by)
    # Then it is the scoreboard of the whole log
    whole = compute_scoreboard(
        log.events, start=START, end=END, known_at=known_at, group_by=group_by
    )
    assert board.to_json() == whole.to_json()


def test_a_deal_signed_or_lost_before_the_period_is_settled_until_something_reopens_it() -> None:
    log = EventLog()
    early, later = BEFORE_START[0], BEFORE_START[1]
    stream = [
        log.add("lead.sourced", "D-1", early, rep_id="R-1"),
        log.add("deal.lost", "D-1", later, rep_id="R-1"),
    ]
    assert settled_before(stream, START)
    # an unsettling event at the same instant as the settling one: not provably settled
    assert not settled_before([*stream, log.add("deal.qualified", "D-1", later)], START)
    # reopened later, an event in the period, a retraction, no settling event: not settled
    assert not settled_before([*stream, log.add("deal.qualified", "D-1", BEFORE_START[2])], START)
    assert not settled_before([*stream, log.add("visit.completed", "D-1", START)], START)
    assert not settled_before([*stream, log.retract(stream[0], early)], START)
    assert not settled_before(stream[:1], START)


def test_rows_by_team_need_the_team_history() -> None:
    with pytest.raises(ValueError, match="team history"):
        ScoreboardFold(start=START, end=END, known_at=None, group_by="team")

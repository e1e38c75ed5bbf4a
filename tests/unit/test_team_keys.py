"""The in-memory team of each fact is `team_at` of its rep and instant, fact by fact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.projections.teams import TeamHistory, team_at
from service.store.mirror.columns import Codes, micros
from service.store.mirror.query import team_codes, team_codes_by_interval, team_keys

START = datetime(2026, 1, 1, tzinfo=UTC)
REPS = ["r1", "r2", "r3", "gone"]
INSTANTS = st.integers(-5, 40).map(lambda hours: START + timedelta(hours=hours))
# Assignments in stored order: several at one instant happen; the last stored wins.
HISTORIES = st.dictionaries(
    st.sampled_from(REPS),
    st.lists(st.tuples(INSTANTS, st.sampled_from(["east", "west", "north"])), min_size=1).map(
        lambda assignments: sorted(assignments, key=lambda assignment: assignment[0])
    ),
)
FACTS = st.lists(st.tuples(st.sampled_from([*REPS, None]), INSTANTS), max_size=40)


def codes_of(facts: list[tuple[str | None, datetime]]) -> tuple[Codes, np.ndarray, np.ndarray]:
    """The facts as the mirror holds them; "gone" is a rep no fact ever names."""
    reps = Codes()
    reps.codes(["r1", "r2", "r3"])
    rep = reps.codes([None if name == "gone" else name for name, _ in facts])
    occurred = np.array([micros(instant) for _, instant in facts], dtype=np.int64)
    return reps, rep, occurred


@given(HISTORIES, FACTS)
def test_each_fact_is_keyed_by_its_reps_team_then(
    history: TeamHistory, facts: list[tuple[str | None, datetime]]
) -> None:
    reps, rep, occurred = codes_of(facts)
    keys, names = team_keys(rep, occurred, reps, history)
    expected = [
        team_at(history, None if name == "gone" else name, instant) for name, instant in facts
    ]
    assert [names[key] for key in keys.tolist()] == expected
    assert names[-1] is None


@given(FACTS)
def test_one_search_equals_one_mask_per_interval(facts: list[tuple[str | None, datetime]]) -> None:
    _, rep, occurred = codes_of(facts)
    # The last interval is of a rep no fact names (-1): it keys nothing.
    intervals = (
        np.array([0, 0, 1, 2, -1], dtype=np.int64),
        np.array([micros(START + timedelta(hours=h)) for h in (-3, 2, 0, 9, 0)], dtype=np.int64),
        np.array([micros(START + timedelta(hours=h)) for h in (2, 30, 99, 9, 5)], dtype=np.int64),
        np.array([0, 1, 2, 0, 1], dtype=np.int32),
    )
    searched = team_codes(rep, occurred, *intervals, none=3)
    reps, starts, ends, teams = intervals
    masked = team_codes_by_interval(
        rep, occurred, reps[:-1], starts[:-1], ends[:-1], teams[:-1], np.full(len(rep), 3, np.int32)
    )
    assert searched.tolist() == masked.tolist()


def test_intervals_too_wide_for_one_number_are_masked_one_by_one() -> None:
    rep = np.array([0, 1, 1, -1], dtype=np.int32)
    occurred = np.array([-(2**62), 0, 2**62, 5], dtype=np.int64)
    keys = team_codes(
        rep,
        occurred,
        np.array([1, 0], dtype=np.int64),
        np.array([-10, -(2**63)], dtype=np.int64),
        np.array([2**63 - 1, 0], dtype=np.int64),
        np.array([7, 8], dtype=np.int32),
        none=9,
    )
    assert keys.tolist() == [8, 7, 7, 9]

"""The copy's per-(owner, stage) counts of the segments covering an instant, as known at a time:
read rows plus the current run's kept block counts, equal to a scan of every row."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from service.store.mirror import columns as columns_module
from service.store.mirror import current as current_module
from service.store.mirror import query as mirror_query
from service.store.mirror.columns import (
    EPOCH,
    NEVER,
    OPEN_STAGE_CODES,
    STAGE_CODES,
    Codes,
    Columns,
    Facts,
    Segments,
)
from tests.unit.test_mirror_order import DEALS, _facts

REPS = ["r-0", "r-1", "r-2"]
TIMES = st.integers(0, 12)
ENDS = st.one_of(st.just(NEVER), TIMES)
FAST = settings(max_examples=300, deadline=None, database=None)

Row = tuple[int, int, int, int, int, int, int]
"""(deal, valid_from, valid_to, known_from, known_to, stage, owner): owner and stage -1 for
None; instants in microseconds."""

segment_rows = st.lists(
    st.tuples(
        st.integers(0, len(DEALS) - 1),
        TIMES,
        ENDS,
        TIMES,
        ENDS,
        st.integers(-1, len(STAGE_CODES) - 1),
        st.integers(-1, len(REPS) - 1),
    ),
    max_size=40,
)
reloads = st.lists(
    st.tuples(st.sets(st.integers(0, len(DEALS) - 1), min_size=1), segment_rows), max_size=4
)


def _segments(rows: list[Row], deals: Codes, reps: Codes) -> Segments:
    def column(place: int, dtype: type[np.generic]) -> np.ndarray:
        return np.array([row[place] for row in rows], dtype=dtype)

    return Segments(
        deal=deals.codes([DEALS[row[0]] for row in rows]),
        valid_from=column(1, np.int64),
        valid_to=column(2, np.int64),
        known_from=column(3, np.int64),
        known_to=column(4, np.int64),
        stage=column(5, np.int8),
        owner=reps.codes([None if row[6] < 0 else REPS[row[6]] for row in rows]),
    )


def _scan(rows: list[Row], instant: int, known_at: int) -> Counter[tuple[str | None, int]]:
    """(owner, stage) → the rows covering (instant, known_at), by a scan of every row."""
    return Counter(
        (None if owner < 0 else REPS[owner], stage)
        for _, valid_from, valid_to, known_from, known_to, stage, owner in rows
        if valid_from <= instant < valid_to and known_from <= known_at < known_to
    )


def _instant(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _counted(
    columns: Columns, instant: int, known_at: int, *, open_only: bool
) -> Counter[tuple[str | None, int]]:
    """(owner, stage) → the copy's count of the segments covering (instant, known_at)."""
    at, known = _instant(instant), _instant(known_at)
    counts = mirror_query._stage_counts(columns, at, known, open_only=open_only)
    found: Counter[tuple[str | None, int]] = Counter()
    for code, row in enumerate(counts.tolist()):
        owner = columns.reps.name(code if code < len(counts) - 1 else -1)
        for column, count in enumerate(row):
            if count:
                found[(owner, column - 1)] = count
    return found


@FAST
@given(
    segment_rows,
    reloads,
    st.sampled_from([1, 2, 3, 5, current_module.BLOCK_ROWS]),
    st.sampled_from([0, 3, 10**6]),
    TIMES,
    TIMES,
)
def test_the_counts_of_the_read_rows_and_the_current_run_are_those_of_a_full_scan(
    loaded: list[Row],
    reloaded: list[tuple[set[int], list[Row]]],
    block_rows: int,
    unsorted_rows: int,
    instant: int,
    known_at: int,
) -> None:
    # Given the copy as loaded (sorted), then deals reloaded with new rows, in blocks of a few
    deals, reps = Codes(), Codes()
    no_facts: Facts = _facts([], deals)
    expected = list(loaded)
    with (
        patch.object(current_module, "BLOCK_ROWS", block_rows),
        patch.object(columns_module, "UNSORTED_ROWS", unsorted_rows),
    ):
        columns = Columns(no_facts, _segments(loaded, deals, reps), deals, reps).in_order()
        for touched, drawn in reloaded:
            new_rows = [row for row in drawn if row[0] in touched]
            columns = columns.replace_deals(
                [DEALS[deal] for deal in touched], no_facts, _segments(new_rows, deals, reps)
            )
            expected = [row for row in expected if row[0] not in touched] + new_rows
            # Then the superseded run holds rows valid until further notice but known until a
            # time, in `known_to` order; the current run those valid and known until further
            # notice, in `valid_from` order; the others are valid until a time
            segments = columns.segments
            superseded = slice(columns.superseded_from, columns.current_from)
            assert (segments.valid_to[superseded] == NEVER).all()
            assert (segments.known_to[superseded] < NEVER).all()
            assert (np.diff(segments.known_to[superseded]) >= 0).all()
            run = columns.current_run()
            assert (segments.valid_to[run] == NEVER).all()
            assert (segments.known_to[run] == NEVER).all()
            assert (np.diff(segments.valid_from[run]) >= 0).all()
            assert (segments.valid_to[: columns.superseded_from] < NEVER).all()
        # And every count is that of a scan of every row
        scanned = _scan(expected, instant, known_at)
        assert _counted(columns, instant, known_at, open_only=False) == scanned
        # And asked for the open stages only, the open stages' counts are right
        opened = _counted(columns, instant, known_at, open_only=True)
        assert {key: n for key, n in opened.items() if key[1] in OPEN_STAGE_CODES} == {
            key: n for key, n in scanned.items() if key[1] in OPEN_STAGE_CODES
        }

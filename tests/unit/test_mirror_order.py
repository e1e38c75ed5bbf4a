"""The copy's ordered columns: a period's facts and the segments open at an instant are found
in the sorted rows and the unsorted tail exactly as a scan of every row finds them."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from service.store.mirror import columns as columns_module
from service.store.mirror.columns import Codes, Columns, Facts, Segments

DEALS = [f"D-{number}" for number in range(6)]
TIMES = st.integers(0, 20)
FAST = settings(max_examples=200, deadline=None, database=None)


def _facts(rows: list[tuple[int, int]], deals: Codes) -> Facts:
    """Facts of (deal number, occurred), every other column filler."""
    size = len(rows)
    ints = np.zeros(size, dtype=np.int64)
    return Facts(
        position=np.arange(size, dtype=np.int64),
        deal=deals.codes([DEALS[deal] for deal, _ in rows]),
        kind=np.zeros(size, dtype=np.int8),
        rep=np.zeros(size, dtype=np.int32),
        occurred=np.array([when for _, when in rows], dtype=np.int64),
        recorded=ints.copy(),
        retracted=np.full(size, columns_module.NEVER, dtype=np.int64),
        visit=np.zeros(size, dtype=np.int8),
        measure=ints.copy(),
        repeats_for_rep=np.zeros(size, dtype=np.bool_),
        repeats_for_deal=np.zeros(size, dtype=np.bool_),
        units=ints.copy(),
        exponent=np.zeros(size, dtype=np.int8),
        currency_number=np.zeros(size, dtype=np.int16),
    )


def _segments(rows: list[tuple[int, int]], deals: Codes) -> Segments:
    """Segments of (deal number, valid_to), every other column filler."""
    size = len(rows)
    return Segments(
        deal=deals.codes([DEALS[deal] for deal, _ in rows]),
        valid_from=np.zeros(size, dtype=np.int64),
        valid_to=np.array([until for _, until in rows], dtype=np.int64),
        known_from=np.zeros(size, dtype=np.int64),
        known_to=np.zeros(size, dtype=np.int64),
        stage=np.zeros(size, dtype=np.int8),
        owner=np.zeros(size, dtype=np.int32),
    )


rows = st.lists(st.tuples(st.integers(0, len(DEALS) - 1), TIMES), max_size=30)
reloads = st.lists(st.tuples(st.sets(st.integers(0, len(DEALS) - 1), min_size=1), rows), max_size=5)


def _facts_in(columns: Columns, low: int, high: int) -> list[tuple[str | None, int]]:
    facts, found = columns.facts, []
    for part in columns.fact_slices(low, high):
        occurred = facts.occurred[part]
        rows = np.flatnonzero((occurred >= low) & (occurred < high)) + part.start
        found += [
            (columns.deals.name(int(facts.deal[row])), int(facts.occurred[row])) for row in rows
        ]
    return sorted(found)


def _open_after(columns: Columns, instant: int) -> list[tuple[str, int]]:
    part = columns.segments_open_after(instant)
    valid_to = columns.segments.valid_to[part]
    return sorted(
        (columns.deals.names[columns.segments.deal[row]], int(columns.segments.valid_to[row]))
        for row in np.flatnonzero(valid_to > instant) + part.start
    )


@FAST
@given(rows, rows, reloads, st.sampled_from([0, 2, 10**6]), TIMES, TIMES, TIMES)
def test_the_ordered_rows_and_the_tail_find_what_a_full_scan_finds(
    facts: list[tuple[int, int]],
    segments: list[tuple[int, int]],
    reloaded: list[tuple[set[int], list[tuple[int, int]]]],
    unsorted_rows: int,
    low: int,
    high: int,
    instant: int,
) -> None:
    # Given the copy as loaded (sorted), then deals reloaded with new rows (the tails)
    deals = Codes()
    columns = Columns(_facts(facts, deals), _segments(segments, deals), deals, Codes()).in_order()
    expected_facts, expected_segments = list(facts), list(segments)
    with patch.object(columns_module, "UNSORTED_ROWS", unsorted_rows):
        for touched, drawn in reloaded:
            new_rows = [(deal, when) for deal, when in drawn if deal in touched]
            columns = columns.replace_deals(
                [DEALS[deal] for deal in touched],
                _facts(new_rows, deals),
                _segments(new_rows, deals),
            )
            expected_facts = [row for row in expected_facts if row[0] not in touched] + new_rows
            expected_segments = [row for row in expected_segments if row[0] not in touched]
            expected_segments += new_rows
            # Then the sorted rows stay sorted, and every row is held once
            assert (np.diff(columns.facts.occurred[: columns.facts_sorted]) >= 0).all()
            assert (np.diff(columns.segments.valid_to[: columns.segments_sorted]) >= 0).all()
    # And a period's facts and the segments open after an instant are those of a full scan
    assert _facts_in(columns, low, high) == sorted(
        (DEALS[deal], when) for deal, when in expected_facts if low <= when < high
    )
    assert _open_after(columns, instant) == sorted(
        (DEALS[deal], until) for deal, until in expected_segments if until > instant
    )

"""The copy's ordered columns: a period's facts and the segments open at an instant are found
in the sorted rows and the unsorted tail exactly as a scan of every row finds them."""

from __future__ import annotations

from dataclasses import replace
from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from service.store.mirror import columns as columns_module
from service.store.mirror.columns import (
    OPEN_STAGE_CODES,
    STAGE_CODES,
    Codes,
    Columns,
    Facts,
    Segments,
)

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
    """Segments of (deal number, valid_to), the stage drawn from both, the rest filler."""
    size = len(rows)
    return Segments(
        deal=deals.codes([DEALS[deal] for deal, _ in rows]),
        valid_from=np.zeros(size, dtype=np.int64),
        valid_to=np.array([until for _, until in rows], dtype=np.int64),
        known_from=np.zeros(size, dtype=np.int64),
        known_to=np.zeros(size, dtype=np.int64),
        stage=np.array([_stage(row) for row in rows], dtype=np.int8),
        owner=np.zeros(size, dtype=np.int32),
    )


def _stage(row: tuple[int, int]) -> int:
    """A stage code (or -1, none) that depends on the row alone."""
    return (row[0] * 7 + row[1]) % (len(STAGE_CODES) + 1) - 1


def _is_open(row: tuple[int, int]) -> bool:
    return _stage(row) in OPEN_STAGE_CODES


rows = st.lists(st.tuples(st.integers(0, len(DEALS) - 1), TIMES), max_size=30)
reloads = st.lists(st.tuples(st.sets(st.integers(0, len(DEALS) - 1), min_size=1), rows), max_size=5)
older = st.lists(st.integers(0, 3), max_size=5)
"""Per reload, how many copies back it starts from: 0 is the latest, more is a swap begun from
an older copy (a follower's swap that a request's overtook)."""


def _facts_in(columns: Columns, low: int, high: int) -> list[tuple[str | None, int]]:
    facts, dead, found = columns.facts, columns.facts_dead, []
    for part in columns.fact_slices(low, high):
        occurred = facts.occurred[part]
        wanted = (occurred >= low) & (occurred < high)
        if dead is not None:
            wanted &= ~dead[part]
        rows = np.flatnonzero(wanted) + part.start
        found += [
            (columns.deals.name(int(facts.deal[row])), int(facts.occurred[row])) for row in rows
        ]
    return sorted(found)


def _valid_after(
    columns: Columns, instant: int, *, open_only: bool
) -> list[tuple[str | None, int]]:
    segments, dead, found = columns.segments, columns.segments_dead, []
    # (no row is valid until further notice here: the runs by `known_to` and `valid_from` are
    # empty, so `known_at` bounds nothing)
    for part in columns.segments_covering(instant, 0, open_only=open_only):
        wanted = segments.valid_to[part] > instant
        if dead is not None:
            wanted &= ~dead[part]
        rows = np.flatnonzero(wanted) + part.start
        found += [
            (columns.deals.name(int(segments.deal[row])), int(segments.valid_to[row]))
            for row in rows
        ]
    return sorted(found)


Version = tuple[Columns, list[tuple[int, int]], list[tuple[int, int]]]


def _reloaded(version: Version, touched: set[int], drawn: list[tuple[int, int]]) -> Version:
    """A copy with `touched` deals reloaded as the rows of `drawn` that are theirs."""
    columns, expected_facts, expected_segments = version
    deals = columns.deals
    new_rows = [(deal, when) for deal, when in drawn if deal in touched]
    columns = columns.replace_deals(
        [DEALS[deal] for deal in touched], _facts(new_rows, deals), _segments(new_rows, deals)
    )
    expected_facts = [row for row in expected_facts if row[0] not in touched] + new_rows
    expected_segments = [row for row in expected_segments if row[0] not in touched] + new_rows
    # The sorted rows stay sorted (segments in two runs: closed stages, then open ones)
    opened = columns.open_segments_from
    assert (np.diff(columns.facts.occurred[: columns.facts_sorted]) >= 0).all()
    assert columns.superseded_from == columns.segments_sorted
    for run in (slice(0, opened), slice(opened, columns.segments_sorted)):
        assert (np.diff(columns.segments.valid_to[run]) >= 0).all()
    assert not np.isin(columns.segments.stage[:opened], OPEN_STAGE_CODES).any()
    assert np.isin(columns.segments.stage[opened : columns.segments_sorted], OPEN_STAGE_CODES).all()
    return columns, expected_facts, expected_segments


@FAST
@given(rows, rows, reloads, older, st.sampled_from([0, 2, 10**6]), TIMES, TIMES, TIMES)
def test_the_ordered_rows_and_the_tail_find_what_a_full_scan_finds(
    facts: list[tuple[int, int]],
    segments: list[tuple[int, int]],
    reloaded: list[tuple[set[int], list[tuple[int, int]]]],
    back: list[int],
    unsorted_rows: int,
    low: int,
    high: int,
    instant: int,
) -> None:
    # Given the copy as loaded (sorted), then deals reloaded with new rows (dead rows and the
    # tails), each reload begun from the latest copy or an older one
    deals = Codes()
    columns = Columns(_facts(facts, deals), _segments(segments, deals), deals, Codes()).in_order()
    versions: list[Version] = [(columns, list(facts), list(segments))]
    with patch.object(columns_module, "UNSORTED_ROWS", unsorted_rows):
        for step, (touched, drawn) in enumerate(reloaded):
            start = versions[-1 - min(back[step] if step < len(back) else 0, len(versions) - 1)]
            versions.append(_reloaded(start, touched, drawn))
    # Then every copy, the older ones too (a reader may still hold one), finds a period's
    # facts and the segments open after an instant as a full scan of its rows does
    for columns, expected_facts, expected_segments in versions:
        assert _facts_in(columns, low, high) == sorted(
            (DEALS[deal], when) for deal, when in expected_facts if low <= when < high
        )
        valid = [row for row in expected_segments if row[1] > instant]
        assert _valid_after(columns, instant, open_only=False) == sorted(
            (DEALS[deal], until) for deal, until in valid
        )
        # And asked for the open stages only, every open one and no closed one of the sorted
        # runs
        open_only = _valid_after(columns, instant, open_only=True)
        assert {(DEALS[deal], until) for deal, until in valid if _is_open((deal, until))} <= set(
            open_only
        )
        tail = set(
            zip(
                columns.segments.deal[columns.segments_sorted :].tolist(),
                columns.segments.valid_to[columns.segments_sorted :].tolist(),
                strict=True,
            )
        )
        codes = columns.deals.index
        assert all(
            _is_open((DEALS.index(str(deal)), until)) or (codes[str(deal)], until) in tail
            for deal, until in open_only
        )


INT32 = np.iinfo(np.int32)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_a_column_is_narrowed_to_int32_exactly_when_every_value_fits(values: list[int]) -> None:
    narrowed = columns_module.narrow(np.array(values, dtype=np.int64))
    assert narrowed.tolist() == values
    fits = all(INT32.min < value <= INT32.max for value in values)
    assert narrowed.dtype == (np.int32 if fits else np.int64)


def test_a_reloaded_deal_whose_values_outgrow_int32_widens_the_column() -> None:
    # Given a copy whose positions, measures and amounts all fit in int32
    deals = Codes()
    loaded = _facts([(0, 1), (1, 2)], deals)
    narrow = columns_module.narrow
    small = replace(
        loaded,
        position=narrow(loaded.position),
        measure=narrow(np.array([5, 6], dtype=np.int64)),
        units=narrow(np.array([100, 200], dtype=np.int64)),
    )
    columns = Columns(small, _segments([], deals), deals, Codes()).in_order()
    assert columns.facts.position.dtype == np.int32
    # When deal 1 is reloaded with a position, a measure and an amount beyond int32
    reloaded = _facts([(1, 3)], deals)
    wide = replace(
        reloaded,
        position=narrow(np.array([2**40], dtype=np.int64)),
        measure=narrow(np.array([2**33], dtype=np.int64)),
        units=narrow(np.array([-(2**31)], dtype=np.int64)),
    )
    columns = columns.replace_deals([DEALS[1]], wide, _segments([], deals))
    # Then the columns widen and keep every value
    facts = columns.facts
    assert [str(column.dtype) for column in (facts.position, facts.measure, facts.units)] == [
        "int64"
    ] * 3
    kept = zip(facts.position.tolist(), facts.measure.tolist(), facts.units.tolist(), strict=True)
    assert sorted(kept) == [(0, 5, 100), (2**40, 2**33, -(2**31))]

"""Per-key integer sums on the copy are exact, in float64 where that is exact and beyond it."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.store.mirror.columns import narrow
from service.store.mirror.query import integer_sums

WEIGHTS = st.one_of(
    st.integers(0, 7 * 24 * 3600),  # a call's talk time
    st.integers(-(2**62), 2**62),  # far beyond float64's exact integers
)


@given(st.lists(st.tuples(st.integers(0, 5), WEIGHTS), max_size=40), st.booleans())
def test_the_sums_per_key_are_the_exact_integer_sums(
    rows: list[tuple[int, int]], narrowed: bool
) -> None:
    keys = np.array([key for key, _ in rows], dtype=np.int32)
    weights = np.array([weight for _, weight in rows], dtype=np.int64)
    expected = [sum(weight for key, weight in rows if key == code) for code in range(6)]
    if any(abs(total) >= 2**63 for total in expected):
        return  # an int64 sum cannot hold it: the copy never sums such measures
    found = integer_sums(keys, narrow(weights) if narrowed else weights, 6)
    assert found.dtype == np.int64
    assert found.tolist() == expected


def test_sums_just_past_the_float_limit_stay_exact() -> None:
    keys = np.zeros(3, dtype=np.int32)
    weights = np.array([2**52, 2**52, 1], dtype=np.int64)
    assert integer_sums(keys, weights, 1).tolist() == [2**53 + 1]

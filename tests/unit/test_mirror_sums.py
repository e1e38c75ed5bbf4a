"""Per-group money sums in integers are the very `Decimal`s the addition loop gives."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.store.mirror.sums import currency_numbers, group_sums, money_units

AMOUNTS = st.one_of(
    st.none(),
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False),
    st.integers(-(10**9), 10**9).map(Decimal),
    st.sampled_from([Decimal("125000.00"), Decimal("0.5"), Decimal("-0.00"), Decimal("7.1234")]),
    st.sampled_from([Decimal("1E+3"), Decimal("25E+2")]),
)
ROWS = st.lists(
    st.tuples(st.integers(0, 4), AMOUNTS, st.sampled_from(["TWD", "USD", "ZZZ", "AAA"])),
    max_size=60,
)


Row = tuple[int, Decimal | None, str]


def loop_sums(rows: Sequence[Row]) -> list[tuple[int, str, Decimal]]:
    """The loop the sums replace, in first-appearance order of the groups."""
    sums: dict[tuple[int, str], Decimal] = {}
    for code, amount, currency in rows:
        if amount is not None:
            sums[(code, currency)] = sums.get((code, currency), Decimal(0)) + amount
    return [(code, currency, total) for (code, currency), total in sums.items()]


def sums_of(rows: Sequence[Row]) -> list[tuple[int, str, Decimal]]:
    """`group_sums` over every other row of full columns (as the scoreboard asks)."""
    filler: Row = (9, Decimal("1"), "XXX")
    padded = [row for pair in zip(rows, [filler] * len(rows), strict=True) for row in pair]
    at = np.arange(0, 2 * len(rows), 2, dtype=np.int64)
    amounts = np.empty(len(padded), dtype=object)
    amounts[:] = [row[1] for row in padded]
    currencies = np.empty(len(padded), dtype=object)
    currencies[:] = [row[2] for row in padded]
    units, exponents = money_units([row[1] for row in padded])
    return group_sums(
        np.array([row[0] for row in rows], dtype=np.int32),
        currency_numbers([row[2] for row in padded])[at],
        units[at],
        exponents[at],
        amounts=amounts,
        currency_texts=currencies,
        rows=at,
    )


def exactly(found: list[tuple[int, str, Decimal]]) -> list[tuple[int, str, object]]:
    return [(code, currency, total.as_tuple()) for code, currency, total in found]


@given(ROWS)
def test_the_sums_are_the_loops_decimals_value_and_exponent_alike(rows: list[Row]) -> None:
    assert exactly(sums_of(rows)) == exactly(loop_sums(rows))


def test_amounts_int64_cannot_hold_are_added_as_decimals() -> None:
    rows = [(0, Decimal("9" * 30), "TWD"), (0, Decimal("1.5"), "TWD"), (1, Decimal("2"), "TWD")]
    assert exactly(sums_of(rows)) == exactly(loop_sums(rows))


def test_a_currency_that_is_not_three_letters_is_summed_as_decimals() -> None:
    rows = [(0, Decimal("1.50"), "usd"), (0, Decimal("2"), "AB1"), (1, Decimal("3"), "TWD")]
    assert exactly(sums_of(rows)) == exactly(loop_sums(rows))


def test_a_narrow_decimal_context_rounds_as_the_loop_does() -> None:
    rows = [(0, Decimal("123456.78"), "TWD"), (0, Decimal("0.01"), "TWD")]
    with localcontext() as context:
        context.prec = 5
        assert exactly(sums_of(rows)) == exactly(loop_sums(rows))

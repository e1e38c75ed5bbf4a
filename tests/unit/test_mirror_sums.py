"""Per-group money sums in integers are the very `Decimal`s the addition loop gives."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.store.mirror.columns import narrow
from service.store.mirror.sums import group_sums, money_columns

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
    """`group_sums` over every other row of full columns (as the scoreboard asks), narrowed as
    the copy holds them (int32 when every coefficient fits)."""
    filler: Row = (9, Decimal("1"), "XXX")
    padded = [row for pair in zip(rows, [filler] * len(rows), strict=True) for row in pair]
    at = np.arange(0, 2 * len(rows), 2, dtype=np.int64)
    positions = np.arange(100, 100 + len(padded), dtype=np.int64)
    units, exponents, numbers, odd = money_columns(
        [row[1] for row in padded], [row[2] for row in padded], positions.tolist()
    )
    return group_sums(
        np.array([row[0] for row in rows], dtype=np.int32),
        numbers[at],
        narrow(units)[at],
        exponents[at],
        positions=narrow(positions)[at],
        odd=odd,
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


def test_only_the_amounts_the_integers_cannot_give_back_are_kept() -> None:
    amounts = [Decimal("1.50"), None, Decimal("9" * 30), Decimal("-0.00"), Decimal("25E+2")]
    currencies = ["TWD", None, "TWD", "usd", "USD"]
    _, _, _, odd = money_columns(amounts, currencies, [10, 11, 12, 13, 14])
    assert odd == {12: (Decimal("9" * 30), "TWD"), 13: (Decimal("-0.00"), "usd")}


def test_a_negative_zero_keeps_its_sign_in_the_decimal_sums() -> None:
    rows = [(0, Decimal("-0.00"), "TWD"), (0, Decimal("-0.0"), "usd")]
    with localcontext() as context:
        context.rounding = ROUND_FLOOR
        assert exactly(sums_of(rows)) == exactly(loop_sums(rows))

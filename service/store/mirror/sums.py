"""Exact per-group sums of money held in numpy columns as integers.

`mirror_query._values` once summed in a Python loop: for each element in turn,
`sums[group] = sums.get(group, Decimal(0)) + amount`, skipping a missing amount. The sums here
give the very same `Decimal` (value and exponent alike) for every group:

- mostly in integers: each amount is also held as its integer coefficient and exponent
  (`money_units`). Brought to a common exponent, the coefficients are summed as int64, and each
  group's total is written with the exponent `Decimal` addition gives an exact sum: the least
  of 0 (that of `Decimal(0)`) and the amounts' own. Exact when every partial sum stays below
  2**63 and within the context's precision, which is checked first;
- otherwise by the very same `Decimal` additions in the very same order (`Decimal(0)`, then each
  amount of the group as it comes), with numpy driving the loop, so that any rounding of the
  current decimal context is alike too. The `Decimal`s are made again from the integers, and the
  few that the integers cannot give back (and odd currencies) are kept by position
  (`money_columns`): the copy holds no Python object per row.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from decimal import Decimal, getcontext

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
I16 = npt.NDArray[np.int16]
I8 = npt.NDArray[np.int8]
Objects = npt.NDArray[np.object_]

Whole = npt.NDArray[np.int64] | npt.NDArray[np.int32]
"""An integer column kept as int32 while its values fit, as int64 once they do not
(`mirror_columns.narrow`): numpy's arithmetic and `np.concatenate` widen as needed."""
Codes = Whole
"""Group codes, int32 or int64."""
OddMoney = tuple[Decimal | None, str | None]
"""The amount and currency of a row whose integers cannot give them back."""
NO_AMOUNT = 127
"""The exponent held for a missing amount."""
UNFIT = -128
"""The exponent held for an amount whose coefficient int64 cannot hold (summed as `Decimal`)."""
NO_CURRENCY = -1
"""The number held for a missing currency."""
ODD_CURRENCY = -2
"""The number held for a currency that is not three letters A-Z (summed as `Decimal`)."""
_CURRENCIES = 26**3
_UNIT_LIMIT = 10**17
_SUM_LIMIT = 2**62
_DIGITS_NEEDED = 19


def _currency_codes(currencies: Objects) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Each element's code into the returned distinct currencies (few: one pass each)."""
    distinct: list[str] = list(dict.fromkeys(currencies.tolist()))
    codes = np.zeros(len(currencies), dtype=np.int64)
    for code, currency in enumerate(distinct[1:], start=1):
        codes[np.equal(currencies, currency)] = code
    return codes, distinct


def money_units(amounts: Sequence[Decimal | None]) -> tuple[I64, I8]:
    """Each amount's integer coefficient and exponent (`Decimal(f"{units}E{exponent}")` is the
    amount, exactly); exponent `NO_AMOUNT` for None, `UNFIT` for an amount int64 cannot hold
    or the integers cannot give back (a negative zero)."""
    units = np.zeros(len(amounts), dtype=np.int64)
    exponents = np.full(len(amounts), NO_AMOUNT, dtype=np.int8)
    for row, amount in enumerate(amounts):
        if amount is None:
            continue
        exponent = amount.as_tuple().exponent
        if not amount.is_finite() or not -100 < int(exponent) < 100:
            exponents[row] = UNFIT
            continue
        coefficient = int(amount.scaleb(-int(exponent)))
        if abs(coefficient) >= _UNIT_LIMIT or (coefficient == 0 and amount.is_signed()):
            exponents[row] = UNFIT
            continue
        units[row], exponents[row] = coefficient, int(exponent)
    return units, exponents


def currency_numbers(currencies: Sequence[str | None]) -> I16:
    """Each ISO 4217 code as a number (its three letters in base 26); `NO_CURRENCY` for None,
    `ODD_CURRENCY` for anything else."""
    numbers = np.full(len(currencies), NO_CURRENCY, dtype=np.int16)
    for row, currency in enumerate(currencies):
        if currency is None:
            continue
        if len(currency) == 3 and currency.isascii() and currency.isalpha() and currency.isupper():
            first, second, third = (ord(letter) - 65 for letter in currency)
            numbers[row] = (first * 26 + second) * 26 + third
        else:
            numbers[row] = ODD_CURRENCY
    return numbers


def money_columns(
    amounts: Sequence[Decimal | None], currencies: Sequence[str | None], positions: Sequence[int]
) -> tuple[I64, I8, I16, dict[int, OddMoney]]:
    """The amounts' `money_units`, the currencies' `currency_numbers`, and, by position, the
    amount and currency of the rows whose integers cannot give them back (few or none)."""
    units, exponents = money_units(amounts)
    numbers = currency_numbers(currencies)
    odd = np.flatnonzero((exponents == UNFIT) | (numbers == ODD_CURRENCY)).tolist()
    return (
        units,
        exponents,
        numbers,
        {positions[row]: (amounts[row], currencies[row]) for row in odd},
    )


def _amount(units: int, exponent: int, odd: OddMoney | None) -> Decimal | None:
    if exponent == NO_AMOUNT:
        return None
    if odd is not None:
        return odd[0]
    return Decimal(f"{units}E{exponent}")  # exact: a string is never rounded


@functools.cache
def _currency(number: int) -> str:
    return "".join(chr(65 + number // 26**place % 26) for place in (2, 1, 0))


def _currency_text(number: int, odd: OddMoney | None) -> str | None:
    if number == NO_CURRENCY:
        return None
    if odd is not None:
        return odd[1]
    return _currency(number)


def group_sums(
    codes: Codes,
    currencies: I16,
    units: Whole,
    exponents: I8,
    *,
    positions: Whole,
    odd: Mapping[int, OddMoney],
) -> list[tuple[int, str, Decimal]]:
    """(code, currency, Decimal(0) + each amount in turn) per group, by first appearance.

    A group is a (code, currency) pair; elements whose amount is None are left out (and make
    no group of their own), as the loop this replaces did. `currencies` are the elements'
    `currency_numbers`, `units` and `exponents` their amounts' `money_units`, `positions` their
    keys in `odd` (`money_columns`). When the integers cannot give the sums, the `Decimal`s are
    made again from them (and `odd`) and added.
    """
    present = np.flatnonzero(exponents != NO_AMOUNT)
    if not len(present):
        return []
    numbers = currencies[present]
    if (numbers < 0).any():
        return _decimal_sums(codes, currencies, units, exponents, positions, odd)
    group = codes[present].astype(np.int64) * _CURRENCIES + numbers
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    totals = _integer_totals(units[present][order], exponents[present][order], starts)
    if totals is None:
        return _decimal_sums(codes, currencies, units, exponents, positions, odd)
    found = [
        (int(order[begin]), int(ordered[begin]), total)
        for begin, total in zip(starts.tolist(), totals, strict=True)
    ]
    found.sort(key=lambda item: item[0])
    return [(key // _CURRENCIES, _currency(key % _CURRENCIES), total) for _, key, total in found]


def _decimal_sums(
    codes: Codes,
    numbers: I16,
    units: Whole,
    exponents: I8,
    positions: Whole,
    odd: Mapping[int, OddMoney],
) -> list[tuple[int, str, Decimal]]:
    """`group_sums` by `Decimal` additions: `Decimal(0)`, then each amount of the group in turn."""
    rows = zip(
        units.tolist(), exponents.tolist(), numbers.tolist(), positions.tolist(), strict=True
    )
    amounts = np.empty(len(units), dtype=object)
    currencies = np.empty(len(units), dtype=object)
    for row, (unit, exponent, number, position) in enumerate(rows):
        kept = odd[position] if exponent == UNFIT or number == ODD_CURRENCY else None
        amounts[row] = _amount(unit, exponent, kept)
        currencies[row] = _currency_text(number, kept)
    # `is not None` per element: numpy's elementwise `!= None` takes a slow path per Decimal.
    present = np.flatnonzero(np.fromiter((a is not None for a in amounts.tolist()), np.bool_))
    if not len(present):
        return []
    amounts, currencies = amounts[present], currencies[present]
    currency_codes, distinct = _currency_codes(currencies)
    group = codes[present].astype(np.int64) * len(distinct) + currency_codes
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = [*starts[1:].tolist(), len(order)]
    ordered_amounts = amounts[order]
    found = [
        (
            int(order[begin]),
            int(ordered[begin]),
            np.add.reduce(ordered_amounts[begin:end], initial=Decimal(0)),
        )
        for begin, end in zip(starts.tolist(), ends, strict=True)
    ]
    found.sort(key=lambda item: item[0])
    width = len(distinct)
    return [(key // width, distinct[key % width], total) for _, key, total in found]


def _integer_totals(units: Whole, exponents: I8, starts: I64) -> list[Decimal] | None:
    """Each run's exact `Decimal` total from integer coefficients, or None when int64 or the
    decimal context could not hold it exactly (the caller then adds the `Decimal`s)."""
    if (exponents == UNFIT).any() or getcontext().prec < _DIGITS_NEEDED:
        return None
    common = min(0, int(exponents.min()))
    shift = exponents.astype(np.int64) - common
    # Every partial sum is at most the count times the largest term (in Python ints, which
    # cannot overflow): that must fit in int64 before anything is multiplied.
    largest = int(np.abs(units).max()) * 10 ** int(shift.max())
    if largest * len(units) >= _SUM_LIMIT:
        return None
    scaled = units * np.power(10, shift, dtype=np.int64)
    sums = np.add.reduceat(scaled, starts).tolist()
    least = np.minimum.reduceat(exponents, starts).tolist()
    totals = []
    for total, lowest in zip(sums, least, strict=True):
        exponent = min(0, lowest)  # the exponent of Decimal(0) + the amounts, exactly added
        totals.append(Decimal(total // 10 ** (exponent - common)).scaleb(exponent))
    return totals

"""Exact per-group sums of money held as `Decimal` objects in numpy columns.

`mirror_query._values` once summed in a Python loop: for each element in turn,
`sums[group] = sums.get(group, Decimal(0)) + amount`, skipping a missing amount. The sums here
perform the very same additions in the very same order (`Decimal(0)`, then each amount of the
group as it comes), only with numpy driving the loop, so every sum is the same `Decimal` (value,
exponent and any rounding of the current decimal context alike).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

from service.store.mirror_columns import Objects

Codes = npt.NDArray[np.int32] | npt.NDArray[np.int64]


def _currency_codes(currencies: Objects) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Each element's code into the returned distinct currencies (few: one pass each)."""
    distinct: list[str] = list(dict.fromkeys(currencies.tolist()))
    codes = np.zeros(len(currencies), dtype=np.int64)
    for code, currency in enumerate(distinct[1:], start=1):
        codes[np.equal(currencies, currency)] = code
    return codes, distinct


def group_sums(
    codes: Codes, amounts: Objects, currencies: Objects
) -> list[tuple[int, str, Decimal]]:
    """(code, currency, Decimal(0) + each amount in turn) per group, by first appearance.

    A group is a (code, currency) pair; elements whose amount is None are left out (and make
    no group of their own), as the loop this replaces did.
    """
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

"""Why a link of the hash chain fails: changed, inserted, swapped or moved rows.

Only each event's own hash is stored, so a failing row is explained by searching the rows
around it for the place it was hashed for: the (position, previous hash) pair that reproduces
its stored hash. A row that fits nowhere was changed (or is a forgery); a row that fits
elsewhere was moved, and where it fits tells what happened around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from service.store.chain.hashing import GENESIS
from service.store.chain.rows import ChainRow

BreakReason = Literal[
    "position_gap",
    "hash_mismatch",
    "broken_link",
    "swapped_rows",
    "inserted_row",
    "moved_row",
    "time_reversal",
    "anchor_mismatch",
    "truncated",
]


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first position at which the stored log is not the chain it was written as."""

    position: int
    reason: BreakReason
    detail: str


@dataclass(frozen=True, slots=True)
class _Origin:
    position: int
    after: int  # position of the row whose hash it was chained to; 0 for the genesis


def _origin(row: ChainRow, window: Mapping[int, ChainRow], radius: int) -> _Origin | None:
    """Where `row` was hashed for: a position near it, after the hash of a row of the window."""
    previous = {GENESIS: 0} | {other.hash: other.position for other in window.values()}
    nearest_first = sorted(
        range(max(1, row.position - radius), row.position + radius + 1),
        key=lambda q: abs(q - row.position),
    )
    for position in nearest_first:
        for prev, after in previous.items():
            if row.fits(position, prev):
                return _Origin(position, after)
    return None


def diagnose(window: Mapping[int, ChainRow], position: int, prev: bytes, radius: int) -> ChainBreak:
    """Explain why the row at `position` does not fit after `prev` (the hash before it).

    `window` holds the stored rows within `radius` positions of it, by position.
    """
    row = window[position]
    origin = _origin(row, window, radius)
    if origin is None:
        following = window.get(position + 1)
        if following is not None and following.fits(position, prev):
            return ChainBreak(
                position,
                "inserted_row",
                f"the row at {position} is not part of the chain: the row now at "
                f"{position + 1} was written at {position}, right after {position - 1}",
            )
        return ChainBreak(
            position,
            "hash_mismatch",
            f"the row at {position} does not match its hash: its content or hash was changed "
            f"(or the row before it was rewritten together with its hash)",
        )
    if origin.position == position:
        return ChainBreak(
            position,
            "broken_link",
            f"the row at {position} is intact but was chained to the row now at {origin.after}, "
            f"not to the row at {position - 1}",
        )
    other = window.get(origin.position)
    counterpart = None if other is None else _origin(other, window, radius)
    if counterpart is not None and counterpart.position == position:
        return ChainBreak(
            min(position, origin.position),
            "swapped_rows",
            f"the rows at {position} and {origin.position} were swapped",
        )
    if origin.position < position:
        return ChainBreak(
            origin.position,
            "inserted_row",
            f"the row now at {position} was written at {origin.position}: "
            f"{position - origin.position} row(s) were inserted from {origin.position} on",
        )
    return ChainBreak(
        position,
        "moved_row",
        f"the row at {position} was written at {origin.position}: rows were removed or "
        f"renumbered before it",
    )

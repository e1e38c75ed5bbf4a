"""The deals' current segments counted per owner and stage at any (instant, `known_at`), reading
few of them.

A current segment (`valid_to` and `known_to` both `infinity`: each deal's latest state, as
known now) covers the instant t as known at k exactly when `valid_from` <= t and
`known_from` <= k. Kept in `valid_from` order, those with `valid_from` <= t are a prefix; the
counts of every prefix of whole blocks are kept, so only the rest of the last block is read.
From them, the rows known after k, a suffix in `known_from` order (few, unless k is far in the
past), are taken away, and so are the run's dead rows (those of deals reloaded since the run
was sorted: few, as the run is sorted again before they grow many). At ten million events nearly
every deal is settled or still open in its current segment: the open numbers and the funnel
read about a block instead of a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
Flags = npt.NDArray[np.bool_]

BLOCK_ROWS = 16_384
"""Rows per block: the counts of each whole-block prefix are kept, the rest is read."""


def stage_cells(owner: I32, stage: I8, width: int) -> I64:
    """Each row's cell: (owner + 1) * `width` + stage + 1 (owner None and stage None are -1)."""
    cells: I64 = (owner.astype(np.int64) + 1) * width + stage.astype(np.int64) + 1
    return cells


@dataclass(frozen=True, slots=True)
class CurrentIndex:
    """The counts index of one run of current segments, sorted by `valid_from`.

    `counts` answers with a matrix of (owner + 1) rows (row 0: no owner) and `width` columns
    (column 0: no stage, then each stage code).
    """

    owners: int
    """Owner codes the cells hold (0 .. owners - 1): the rep codes when the index was built."""
    width: int
    block_rows: int
    """`BLOCK_ROWS` when the index was built."""
    prefix_counts: I32
    """Row b: each cell's count over the first b * `block_rows` rows."""
    known_order: I32
    """The rows in `known_from` order."""
    known_sorted: I64
    """Their `known_from`, in that order."""

    @classmethod
    def build(
        cls, *, known_from: I64, owner: I32, stage: I8, owners: int, width: int
    ) -> CurrentIndex:
        """The index of a run (already in `valid_from` order); `owners` > every owner code."""
        order = np.argsort(known_from, kind="stable").astype(np.int32)
        cells = stage_cells(owner, stage, width)
        return cls(
            owners=owners,
            width=width,
            block_rows=BLOCK_ROWS,
            prefix_counts=_prefix_counts(cells, (owners + 1) * width, BLOCK_ROWS),
            known_order=order,
            known_sorted=known_from[order],
        )

    def counts(
        self,
        valid_from: I64,
        owner: I32,
        stage: I8,
        *,
        instant: int,
        known_at: int,
        dead: I64,
        known_from: I64,
    ) -> I64:
        """Per (owner + 1, stage + 1), the run's live rows covering `instant` as known at
        `known_at` (microseconds); `valid_from`, `owner`, `stage` and `known_from` are the
        run's columns, `dead` the places of its dead rows, ascending."""
        cells = (self.owners + 1) * self.width
        covered = int(np.searchsorted(valid_from, instant, side="right"))
        block = covered // self.block_rows
        rest = slice(block * self.block_rows, covered)
        counts: I64 = self.prefix_counts[block].astype(np.int64)
        counts += np.bincount(stage_cells(owner[rest], stage[rest], self.width), minlength=cells)
        known = int(np.searchsorted(self.known_sorted, known_at, side="right"))
        late = self.known_order[known:]
        late = late[late < covered]  # in `valid_from` order: row < covered is valid_from <= t
        counts -= np.bincount(stage_cells(owner[late], stage[late], self.width), minlength=cells)
        if len(dead):
            # A dead row counted above: valid from t or before, known by k (not among `late`).
            gone = dead[: int(np.searchsorted(dead, covered))]
            gone = gone[known_from[gone] <= known_at]
            counts -= np.bincount(
                stage_cells(owner[gone], stage[gone], self.width), minlength=cells
            )
        return counts.reshape(self.owners + 1, self.width)


def _prefix_counts(cells: I64, size: int, block_rows: int) -> I32:
    """Row b: each cell's count over cells[: b * block_rows] (b = 0 .. the blocks begun)."""
    blocks = -(-len(cells) // block_rows)
    block = np.arange(len(cells), dtype=np.int64) // block_rows
    per_block = np.bincount(block * size + cells, minlength=blocks * size).reshape(blocks, size)
    prefix = np.zeros((blocks + 1, size), dtype=np.int32)
    np.cumsum(per_block, axis=0, out=prefix[1:])
    return prefix


def empty_index(width: int) -> CurrentIndex:
    """The index of no rows."""
    nothing = np.zeros(0, dtype=np.int64)
    return CurrentIndex.build(
        known_from=nothing,
        owner=nothing.astype(np.int32),
        stage=nothing.astype(np.int8),
        owners=0,
        width=width,
    )

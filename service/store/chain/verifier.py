"""Walking the whole hash chain of the events table, in chunks, and naming its first break."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.instants import in_range
from service.store.chain.diagnosis import ChainBreak, diagnose
from service.store.chain.hashing import GENESIS
from service.store.chain.rows import ChainRow, to_chain_row
from service.store.log.period_events import head_position

_COLUMNS = (
    "position, subject, stream_version, source, event_id, type, schema_version, occurred_at, "
    "recorded_at, data::text AS data, metadata::text AS metadata, hash"
)
_ALL = f"SELECT {_COLUMNS} FROM events ORDER BY position"
_WINDOW = f"SELECT {_COLUMNS} FROM events WHERE position BETWEEN $1 AND $2 ORDER BY position"
_BEGIN = text("SELECT 1")

Progress = Callable[[int], None]
"""Called with the log position the walk has reached."""
LISTED_OUT_OF_RANGE = 100
"""How many positions of events out of range a report lists (it counts them all)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A link an auditor kept from an earlier verification: the log must still contain it."""

    position: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a walk: how far the chain held and, if it broke, where and why."""

    head_position: int
    verified_through: int
    last_hash: bytes | None
    first_break: ChainBreak | None
    out_of_range: tuple[int, ...] = ()
    """The first `LISTED_OUT_OF_RANGE` positions, among those verified, of events whose
    `occurred_at` lies out of the accepted range: stored by an earlier version, never counted."""
    out_of_range_count: int = 0

    @property
    def ok(self) -> bool:
        """Whether every link held."""
        return self.first_break is None


@dataclass(slots=True)
class _Walk:
    """The state of the walk after the last link that held."""

    expected: int = 1
    prev: bytes = GENESIS
    recorded_at: datetime | None = None
    out_of_range: list[int] = field(default_factory=list)
    out_of_range_count: int = 0

    def note_range(self, row: ChainRow) -> None:
        """Remember `row` if it occurred out of range."""
        if not in_range(row.occurred_at):
            self.out_of_range_count += 1
            if len(self.out_of_range) < LISTED_OUT_OF_RANGE:
                self.out_of_range.append(row.position)


class ChainVerifier:
    """Verifies the chain inside one snapshot (`conn` should be a repeatable-read transaction)."""

    def __init__(self, conn: AsyncConnection, *, chunk: int = 5000, radius: int = 16) -> None:
        self._conn = conn
        self._chunk = chunk
        self._radius = radius

    async def verify(
        self, anchor: Anchor | None = None, on_progress: Progress | None = None
    ) -> ChainReport:
        """Recompute every link from position 1; stop at the first break."""
        walk = _Walk()
        head = await head_position(self._conn)
        driver = await self._driver()
        cursor = await (await driver.prepare(_ALL)).cursor()
        while rows := await cursor.fetch(self._chunk):
            for record in rows:
                row = to_chain_row(record)
                problem = await self._check(walk, row, anchor)
                if problem is not None:
                    return self._report(walk, head, problem)
                walk.note_range(row)
                walk.expected, walk.prev, walk.recorded_at = (
                    row.position + 1,
                    row.hash,
                    row.recorded_at,
                )
            if on_progress is not None:
                on_progress(walk.expected - 1)
        if anchor is not None and anchor.position >= walk.expected:
            truncated = ChainBreak(
                walk.expected,
                "truncated",
                f"the log ends at {walk.expected - 1}, before the anchor at {anchor.position}",
            )
            return self._report(walk, head, truncated)
        return self._report(walk, head, None)

    async def _check(self, walk: _Walk, row: ChainRow, anchor: Anchor | None) -> ChainBreak | None:
        if row.position != walk.expected:
            return ChainBreak(
                walk.expected,
                "position_gap",
                f"position {walk.expected} is missing: the next stored position is {row.position}",
            )
        if not row.fits(row.position, walk.prev):
            return diagnose(await self._window(row.position), row.position, walk.prev, self._radius)
        if walk.recorded_at is not None and row.recorded_at < walk.recorded_at:
            return ChainBreak(
                row.position,
                "time_reversal",
                f"recorded_at goes back in time at {row.position}",
            )
        if anchor is not None and row.position == anchor.position and row.hash != anchor.hash:
            return ChainBreak(
                row.position,
                "anchor_mismatch",
                f"the hash at {row.position} is not the anchor's: history up to it was rewritten",
            )
        return None

    async def _window(self, position: int) -> dict[int, ChainRow]:
        driver = await self._driver()
        rows = await driver.fetch(_WINDOW, position - self._radius, position + self._radius)
        return {row["position"]: to_chain_row(row) for row in rows}

    async def _driver(self) -> Any:
        # The driver's own cursor: SQLAlchemy's row processing would triple a walk's time.
        raw = await self._conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if not driver.is_in_transaction():
            await self._conn.execute(_BEGIN)  # SQLAlchemy starts the driver's transaction lazily
        return driver

    def _report(self, walk: _Walk, head: int, problem: ChainBreak | None) -> ChainReport:
        through = walk.expected - 1
        if problem is not None:
            through = min(through, problem.position - 1)
        return ChainReport(
            head_position=head,
            verified_through=through,
            last_hash=None if through == 0 or through != walk.expected - 1 else walk.prev,
            first_break=problem,
            out_of_range=tuple(walk.out_of_range),
            out_of_range_count=walk.out_of_range_count,
        )

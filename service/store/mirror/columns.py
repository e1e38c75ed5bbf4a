"""The flow facts and deal segments as numpy columns: a copy of the read models in memory.

Instants are integer microseconds since the Unix epoch (`NEVER` for a missing `retracted_at` and
for `infinity`); texts are codes into one shared table per kind of id. A deal's rows in both
tables are a function of its own stream, so the rows of the deals touched since a position can be
reloaded and swapped in for theirs (`Columns.replace_deals`): their old rows are marked dead and
the new ones written into room kept behind the columns, so a swap costs the rows it changes and
a pass over the deal codes, not a copy of every column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.projections.deal import STAGES
from service.projections.rules import RULES
from service.store.mirror.current import CurrentIndex, empty_index
from service.store.mirror.sums import OddMoney, Whole, money_columns

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I16 = npt.NDArray[np.int16]
I8 = npt.NDArray[np.int8]
Flags = npt.NDArray[np.bool_]

NEVER = np.iinfo(np.int64).max
"""A missing `retracted_at`, or `infinity`: later than every instant."""
_SINCE_EVER = np.iinfo(np.int64).min
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FLOW_KIND_CODES = tuple(flow.name for flow in RULES.flows)
VISIT_CODES = (
    None,
    *RULES.split,
    *(flow.subcount.number for flow in RULES.event_kinds if flow.subcount is not None),
)
"""The codes of `visit_kind`: a visit's kind, or the sub-count a fact counts in (calls)."""
STAGE_CODES = tuple(str(stage) for stage in STAGES)
STAGE_WIDTH = len(STAGE_CODES) + 1
"""Columns of a per-(owner, stage) count: stage None, then each stage code."""
OPEN_STAGE_CODES = sorted(
    {STAGE_CODES.index(str(stage)) for group in RULES.open_groups for stage in group.stages}
)
"""The codes of the stages some open number counts."""
# Codes are int8: the rule table stays far below 127 stages or kinds.
MONEY_COLUMNS = frozenset({"units", "exponent", "currency_number"})
"""The facts' money columns (`Facts.take` may leave them out)."""


_INT32 = np.iinfo(np.int32)


def narrow(values: Whole) -> Whole:
    """`values` as int32 if every one fits (and none is int32's least, whose absolute value
    would not), else unchanged: half the memory for positions, measures and most amounts."""
    if len(values) and (int(values.min()) <= _INT32.min or int(values.max()) > _INT32.max):
        return values
    return values.astype(np.int32)


def micros(instant: datetime) -> int:
    """An aware instant as integer microseconds since the epoch (exact)."""
    return (instant - EPOCH) // timedelta(microseconds=1)


def _us(column: str) -> str:
    return (
        f"CASE WHEN {column} IS NULL OR {column} = 'infinity' THEN {NEVER} "
        f"WHEN {column} = '-infinity' THEN {_SINCE_EVER} "
        f"ELSE (extract(epoch FROM {column}) * 1000000)::int8 END"
    )


_FACT_COLUMNS = (
    "array_agg(position), array_agg(deal_id), array_agg(kind), array_agg(rep_id), "
    f"array_agg({_us('occurred_at')}), array_agg({_us('recorded_at')}), "
    f"array_agg({_us('retracted_at')}), array_agg(visit_kind), array_agg(repeats_for_rep), "
    "array_agg(repeats_for_deal), array_agg(amount), array_agg(currency), "
    "array_agg(coalesce(measure, 0))"
)
_SEGMENT_COLUMNS = (
    f"array_agg(deal_id), array_agg({_us('valid_from')}), array_agg({_us('valid_to')}), "
    f"array_agg({_us('known_from')}), array_agg({_us('known_to')}), array_agg(stage), "
    "array_agg(owner_rep_id)"
)
_FOR_DEALS = " WHERE deal_id = ANY(CAST(:deals AS text[]))"
PAGE_ROWS = 100_000
"""Rows per statement of a full load. One statement over a whole table builds its arrays in
the server (times its parallel workers) and as Python lists here all at once: at ten million
events that took gigabytes on both sides."""
# A page of facts: the next rows by position. Of segments: the rows of the next deals by id,
# whole deals (a page ends at the deal where `PAGE_ROWS` rows are reached).
_FACTS_PAGE = (
    "SELECT max(position), {columns} FROM (SELECT * FROM {table} WHERE position > :after "
    "ORDER BY position LIMIT :rows) AS page"
)
_SEGMENTS_PAGE = (
    "SELECT max(deal_id), {columns} FROM {table} WHERE deal_id > :after AND deal_id <= "
    "COALESCE((SELECT deal_id FROM {table} WHERE deal_id > :after ORDER BY deal_id "
    "OFFSET :rows LIMIT 1), (SELECT max(deal_id) FROM {table}))"
)


@dataclass(slots=True)
class Codes:
    """A growing table of ids (deal or rep ids) and their integer codes."""

    names: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def code(self, name: str | None) -> int:
        """The code of `name` (a new one if unseen); -1 for None."""
        if name is None:
            return -1
        found = self.index.get(name)
        if found is None:
            found = self.index[name] = len(self.names)
            self.names.append(name)
        return found

    def codes(self, names: Sequence[str | None]) -> I32:
        """The codes of many names."""
        return np.fromiter((self.code(name) for name in names), np.int32, len(names))

    def name(self, code: int) -> str | None:
        """The name of a code; None for -1."""
        return None if code < 0 else self.names[code]


@dataclass(frozen=True, slots=True)
class Facts:
    """`rm_flow_facts`, one array element per row."""

    position: Whole
    deal: I32
    kind: I8
    rep: I32
    occurred: I64
    recorded: I64
    retracted: I64
    visit: I8
    measure: Whole
    """What each fact adds to its kind's measure (0 for none)."""
    repeats_for_rep: Flags
    repeats_for_deal: Flags
    units: Whole
    """The amounts as integer coefficients with `exponent` (`mirror_sums.money_units`)."""
    exponent: I8
    currency_number: I16
    """The currencies as numbers (`mirror_sums.currency_numbers`)."""
    odd_money: Mapping[int, OddMoney] = field(default_factory=dict)
    """By position, the amount and currency of the facts whose integers cannot give them back
    (`mirror_sums.money_columns`): not a column. A fact's money never changes, so rows dropped
    since may leave theirs here."""

    def keep(self, rows: Flags) -> Facts:
        """Only the rows where `rows` is true."""
        return self.take(np.flatnonzero(rows))

    def take(self, index: I64, *, leave_out: frozenset[str] = frozenset()) -> Facts:
        """The rows at `index`, in that order (one take per column, not one mask scan each).

        The columns named in `leave_out` are left empty: a reader that needs them for a few
        rows takes those from the full columns (`index[i]` is row i's place there).
        """
        taken = {
            name: getattr(self, name)[index[:0] if name in leave_out else index]
            for name in FACT_COLUMNS
        }
        return Facts(**taken, odd_money=self.odd_money)

    def plus(self, other: Facts) -> Facts:
        """These rows followed by `other`'s."""
        return self.plus_all([other])

    def plus_all(self, others: Sequence[Facts]) -> Facts:
        """These rows followed by those of each of `others` in turn."""
        tables = [self, *others]
        odd = dict(self.odd_money)
        for other in others:
            odd.update(other.odd_money)
        joined = dict(zip(FACT_COLUMNS, _joined(tables, FACT_COLUMNS), strict=True))
        return Facts(**joined, odd_money=odd)


FACT_COLUMNS = tuple(name for name in Facts.__slots__ if name != "odd_money")


@dataclass(frozen=True, slots=True)
class Segments:
    """`rm_deal_segments`, one array element per row."""

    deal: I32
    valid_from: I64
    valid_to: I64
    known_from: I64
    known_to: I64
    stage: I8
    owner: I32

    def keep(self, rows: Flags) -> Segments:
        """Only the rows where `rows` is true."""
        index = np.flatnonzero(rows)
        return Segments(*(getattr(self, name)[index] for name in self.__slots__))

    def plus(self, other: Segments) -> Segments:
        """These rows followed by `other`'s."""
        return self.plus_all([other])

    def plus_all(self, others: Sequence[Segments]) -> Segments:
        """These rows followed by those of each of `others` in turn."""
        return Segments(*_joined([self, *others], self.__slots__))


def _joined(tables: Sequence[object], names: Sequence[str]) -> list[Any]:
    """Each named column of the tables, one after the other."""
    return [np.concatenate([getattr(table, name) for table in tables]) for name in names]


_Table = TypeVar("_Table", Facts, Segments)

_SUPERSEDED, _CURRENT, _RUNS = 2, 3, 4
"""The segments' runs in order: closed stages (0), open stages (1), superseded, current."""
UNSORTED_ROWS = 50_000
"""Rows a table's unsorted tail may grow to (or a sixteenth of the table, if more) before
`replace_deals` sorts the table again (dropping its dead rows)."""


def _tail_bound(rows: int) -> int:
    """The rows the unsorted tail of a table of `rows` rows may hold (`UNSORTED_ROWS`)."""
    return max(UNSORTED_ROWS, rows // 16)


class _Room:
    """The buffers behind one table's columns, longer than the table: rows are appended in
    place, after every row of every copy that shares them, so no copy sees them.

    Only the copy whose rows end where the buffers' claimed rows end may append (one of two
    swaps begun from the same copy appends, the other copies); the buffers never move, so a
    reader in a worker thread keeps reading its own rows while the event loop appends.
    """

    __slots__ = ("buffers", "claimed")

    def __init__(self, buffers: dict[str, Any], claimed: int) -> None:
        self.buffers = buffers
        self.claimed = claimed

    def appended(self, table: _Table, more: _Table, names: Sequence[str]) -> _Table | None:
        """`table` (whose columns are views of these buffers) followed by `more`, or None
        when there is no room for it (another copy appended first, the buffers are full, or
        a column of `more` needs a wider type)."""
        rows = _rows(table)
        end = rows + _rows(more)
        if self.claimed != rows or end > len(self.buffers[names[0]]):
            return None
        columns = [(self.buffers[name], getattr(more, name)) for name in names]
        if any(np.result_type(buffer, values) != buffer.dtype for buffer, values in columns):
            return None
        for buffer, values in columns:
            buffer[rows:end] = values
        self.claimed = end
        views: dict[str, Any] = {name: self.buffers[name][:end] for name in names}
        if isinstance(table, Facts) and isinstance(more, Facts) and more.odd_money:
            views["odd_money"] = {**table.odd_money, **more.odd_money}
        return replace(table, **views)


def _rows(table: Facts | Segments) -> int:
    return len(table.deal)


def _in_room(table: _Table, names: Sequence[str], order: I64) -> tuple[_Table, _Room]:
    """`table`'s rows in `order`, as views of buffers with room for a tail behind them."""
    rows = len(order)
    buffers = {}
    for name in names:
        column = getattr(table, name)
        buffer = np.empty(rows + _tail_bound(rows), dtype=column.dtype)
        np.take(column, order, out=buffer[:rows], mode="clip")  # "raise" would buffer the out
        buffers[name] = buffer
    views: dict[str, Any] = {name: buffers[name][:rows] for name in names}
    return replace(table, **views), _Room(buffers, rows)


def _dead_with(dead: Flags | None, dying: Flags, added: int) -> Flags | None:
    """The dead rows once `dying` rows die too and `added` live rows follow (None: none)."""
    if dead is not None:
        dying = dead | dying
    elif not dying.any():
        return None
    return np.concatenate((dying, np.zeros(added, dtype=np.bool_)))


@dataclass(frozen=True, slots=True)
class Columns:
    """Both read models at one log position, with the id tables their codes refer to.

    Facts are kept in `occurred` order, so that a period's facts are one slice. Segments are
    kept in four runs, each sorted so that the rows that may cover an instant t as known at k
    are a suffix or are counted without being read:

    - those of a stage no open number counts, then those of an open stage, each in `valid_to`
      order (the rows valid after t are a suffix; the open numbers read only the second run);
    - the superseded ones valid until further notice (`valid_to` infinity, `known_to` not),
      in `known_to` order: the rows still known at k are a suffix;
    - the current ones (valid and known until further notice: most rows) in `valid_from`
      order, counted through `current` rather than read.

    The first `facts_sorted` facts and `segments_sorted` segments are in order (the runs begin
    at 0, `open_segments_from`, `superseded_from` and `current_from`); the rows after them
    (the deals reloaded since the last sort, `replace_deals`) in none.

    A row of a reloaded deal stays where it is, dead (`facts_dead`, `segments_dead`, None when
    no row is; `dead_current` lists those of the current run, which `current` still counts):
    every read leaves dead rows out, and the next sort drops them.
    """

    facts: Facts
    segments: Segments
    deals: Codes
    reps: Codes
    facts_sorted: int = 0
    segments_sorted: int = 0
    open_segments_from: int = 0
    superseded_from: int = 0
    current_from: int = 0
    current: CurrentIndex = field(default_factory=lambda: empty_index(STAGE_WIDTH))
    facts_dead: Flags | None = None
    segments_dead: Flags | None = None
    dead_current: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The dead rows of the current run, as places in the run (ascending)."""
    facts_room: _Room | None = field(default=None, compare=False)
    segments_room: _Room | None = field(default=None, compare=False)

    def in_order(self) -> Columns:
        """These columns with every live row in its table's order (dead rows dropped)."""
        facts, segments = self.facts, self.segments
        if self.facts_dead is not None:
            facts = facts.keep(~self.facts_dead)
        if self.segments_dead is not None:
            segments = segments.keep(~self.segments_dead)
        facts, facts_room = _in_room(facts, FACT_COLUMNS, np.argsort(facts.occurred, kind="stable"))
        until_further_notice = segments.valid_to == NEVER
        is_current = until_further_notice & (segments.known_to == NEVER)
        is_open = np.isin(segments.stage, OPEN_STAGE_CODES)
        runs = np.where(
            until_further_notice, np.where(is_current, _CURRENT, _SUPERSEDED), is_open
        ).astype(np.int8)
        within_run = np.where(
            is_current,
            segments.valid_from,
            np.where(until_further_notice, segments.known_to, segments.valid_to),
        )
        order = np.lexsort((within_run, runs))
        segments, segments_room = _in_room(segments, Segments.__slots__, order)
        open_from, superseded_from, current_from = np.cumsum(np.bincount(runs, minlength=_RUNS))[
            :3
        ].tolist()
        run = slice(current_from, len(order))
        return replace(
            self,
            facts=facts,
            segments=segments,
            facts_sorted=len(facts.occurred),
            segments_sorted=len(order),
            open_segments_from=open_from,
            superseded_from=superseded_from,
            current_from=current_from,
            current=CurrentIndex.build(
                known_from=segments.known_from[run],
                owner=segments.owner[run],
                stage=segments.stage[run],
                owners=len(self.reps.names),
                width=STAGE_WIDTH,
            ),
            facts_dead=None,
            segments_dead=None,
            dead_current=np.zeros(0, dtype=np.int64),
            facts_room=facts_room,
            segments_room=segments_room,
        )

    def current_run(self) -> slice:
        """The rows of the current segments' run (`current` counts them)."""
        return slice(self.current_from, self.segments_sorted)

    def replace_deals(self, deal_ids: Sequence[str], facts: Facts, segments: Segments) -> Columns:
        """These columns with every row of `deal_ids` replaced by the rows given: the old rows
        marked dead, the new ones appended to the unsorted tails (in the room behind the
        columns when there is some); sorted again once a tail outgrows `_tail_bound`."""
        reloaded = np.zeros(len(self.deals.names) + 1, dtype=np.bool_)  # code -1: the last
        reloaded[[self.deals.index[deal] for deal in deal_ids if deal in self.deals.index]] = True
        dying = reloaded[self.segments.deal]
        run = dying[self.current_run()]
        result = replace(
            self,
            facts_dead=_dead_with(self.facts_dead, reloaded[self.facts.deal], _rows(facts)),
            segments_dead=_dead_with(self.segments_dead, dying, _rows(segments)),
            dead_current=np.union1d(self.dead_current, np.flatnonzero(run))
            if run.any()
            else self.dead_current,
        )
        more_facts = (
            None
            if self.facts_room is None
            else self.facts_room.appended(self.facts, facts, FACT_COLUMNS)
        )
        more_segments = (
            None
            if self.segments_room is None
            else self.segments_room.appended(self.segments, segments, Segments.__slots__)
        )
        if more_facts is None or more_segments is None:
            # No room (or another copy took it): the plain join, then the sort, which makes room.
            return replace(
                result,
                facts=self.facts.plus(facts) if more_facts is None else more_facts,
                segments=self.segments.plus(segments) if more_segments is None else more_segments,
            ).in_order()
        result = replace(result, facts=more_facts, segments=more_segments)
        if _rows(more_facts) - self.facts_sorted > _tail_bound(_rows(more_facts)) or (
            _rows(more_segments) - self.segments_sorted > _tail_bound(_rows(more_segments))
        ):
            return result.in_order()
        return result

    def fact_slices(self, low: int, high: int) -> tuple[slice, slice]:
        """The rows of the facts that may have occurred in [`low`, `high`) (microseconds):
        a slice of the sorted ones, and the unsorted tail."""
        ordered = self.facts.occurred[: self.facts_sorted]
        first, last = np.searchsorted(ordered, [low, high], side="left").tolist()
        return slice(first, last), slice(self.facts_sorted, len(self.facts.occurred))

    def segments_covering(self, instant: int, known_at: int, *, open_only: bool) -> list[slice]:
        """The rows of the segments that may cover `instant` as known at `known_at`
        (microseconds), but for the current run (`current` counts it): those of the closed
        and open runs with `valid_to` > `instant`, those of the superseded run with `known_to`
        > `known_at`, and the unsorted tail. With `open_only`, not the run of the closed
        stages (the superseded run and the tail may hold some)."""
        valid_to, known_to = self.segments.valid_to, self.segments.known_to

        def suffix(column: I64, begin: int, end: int, bound: int) -> slice:
            return slice(begin + int(np.searchsorted(column[begin:end], bound, "right")), end)

        found = [
            suffix(valid_to, self.open_segments_from, self.superseded_from, instant),
            suffix(known_to, self.superseded_from, self.current_from, known_at),
        ]
        if not open_only:
            found.insert(0, suffix(valid_to, 0, self.open_segments_from, instant))
        return [*found, slice(self.segments_sorted, len(valid_to))]


def _ints(values: list[int] | None, dtype: type[np.int64] | type[np.int8]) -> Any:
    return np.array(values or [], dtype=dtype)


def _coded(values: list[str | None] | None, names: Sequence[str | None]) -> I8:
    lookup = {name: code for code, name in enumerate(names)}
    items = values or []
    return np.fromiter((lookup.get(value, -1) for value in items), np.int8, len(items))


async def load_facts(
    conn: AsyncConnection, table: str, codes: Columns | None, deal_ids: Sequence[str] | None
) -> tuple[Facts, Codes, Codes]:
    """Every row of the facts table (or only those of `deal_ids`), as columns.

    Every row is read page by page (`PAGE_ROWS`), in `conn`'s transaction: give it one
    snapshot (repeatable read) and the pages are one table's rows at one instant.
    """
    deals, reps = (Codes(), Codes()) if codes is None else (codes.deals, codes.reps)
    if deal_ids is not None:
        sql = f"SELECT NULL, {_FACT_COLUMNS} FROM {table}{_FOR_DEALS}"
        row = (await conn.execute(text(sql), {"deals": list(deal_ids)})).one()
        return _facts(row, deals, reps), deals, reps
    sql = _FACTS_PAGE.format(columns=_FACT_COLUMNS, table=table)
    pages = await _read_pages(conn, sql, 0, _facts, deals, reps)
    return _joined_pages(pages, _facts((None,) * 14, deals, reps)), deals, reps


def _facts(row: Sequence[Any], deals: Codes, reps: Codes) -> Facts:
    """The columns of one statement's row of arrays (its first value is not a column)."""
    positions = row[1] or []
    units, exponents, currencies, odd = money_columns(row[11] or [], row[12] or [], positions)
    return Facts(
        position=narrow(_ints(positions, np.int64)),
        deal=deals.codes(row[2] or []),
        kind=_coded(row[3], FLOW_KIND_CODES),
        rep=reps.codes(row[4] or []),
        occurred=_ints(row[5], np.int64),
        recorded=_ints(row[6], np.int64),
        retracted=_ints(row[7], np.int64),
        visit=_coded(row[8], VISIT_CODES),
        measure=narrow(_ints(row[13], np.int64)),
        repeats_for_rep=np.array(row[9] or [], dtype=np.bool_),
        repeats_for_deal=np.array(row[10] or [], dtype=np.bool_),
        units=narrow(units),
        exponent=exponents,
        currency_number=currencies,
        odd_money=odd,
    )


async def load_segments(
    conn: AsyncConnection, table: str, deals: Codes, reps: Codes, deal_ids: Sequence[str] | None
) -> Segments:
    """Every row of the segments table (or only those of `deal_ids`), as columns; read as
    `load_facts` reads, page by page."""
    if deal_ids is not None:
        sql = f"SELECT NULL, {_SEGMENT_COLUMNS} FROM {table}{_FOR_DEALS}"
        row = (await conn.execute(text(sql), {"deals": list(deal_ids)})).one()
        return _segments(row, deals, reps)
    sql = _SEGMENTS_PAGE.format(columns=_SEGMENT_COLUMNS, table=table)
    pages = await _read_pages(conn, sql, "", _segments, deals, reps)
    return _joined_pages(pages, _segments((None,) * 8, deals, reps))


def _segments(row: Sequence[Any], deals: Codes, reps: Codes) -> Segments:
    """The columns of one statement's row of arrays (its first value is not a column)."""
    return Segments(
        deal=deals.codes(row[1] or []),
        valid_from=_ints(row[2], np.int64),
        valid_to=_ints(row[3], np.int64),
        known_from=_ints(row[4], np.int64),
        known_to=_ints(row[5], np.int64),
        stage=_coded(row[6], STAGE_CODES),
        owner=reps.codes(row[7] or []),
    )


async def _read_pages(
    conn: AsyncConnection,
    sql: str,
    after: object,
    decode: Callable[[Sequence[Any], Codes, Codes], _Table],
    deals: Codes,
    reps: Codes,
) -> list[_Table]:
    """Every page of a `_FACTS_PAGE` or `_SEGMENTS_PAGE` statement, from the key `after` on."""
    statement = text(sql)
    pages: list[_Table] = []
    while True:
        row = (await conn.execute(statement, {"after": after, "rows": PAGE_ROWS})).one()
        if row[0] is None:
            return pages
        pages.append(decode(row, deals, reps))
        after = row[0]


def _joined_pages(pages: Sequence[_Table], empty: _Table) -> _Table:
    """The pages' rows one after the other (`empty` when there are none)."""
    if not pages:
        return empty
    if len(pages) == 1:
        return pages[0]
    return pages[0].plus_all(pages[1:])

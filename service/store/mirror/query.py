"""The scoreboard's rows and the funnel computed from the in-memory columns.

Each function answers exactly what its SQL twin in `service/store/queries/scoreboard.py` answers
(the same conditions, term by term), so `assemble` makes the same `Scoreboard` from either;
`tests/integration/test_read_models.py` checks both against the pure fold.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from service.projections.deal import STAGES
from service.projections.rules import RULES, just_before
from service.projections.scoreboard import ALL_KEY, GroupBy
from service.projections.teams import TeamHistory
from service.store.mirror.columns import (
    FLOW_KIND_CODES,
    I32,
    I64,
    NEVER,
    STAGE_CODES,
    VISIT_CODES,
    Codes,
    Columns,
    Facts,
    micros,
)
from service.store.mirror.sums import Whole, group_sums
from service.store.queries.scoreboard import DEAL_KINDS, SPLIT, BoardParts
from service.store.queries.teams import team_intervals

_KIND = {name: code for code, name in enumerate(FLOW_KIND_CODES)}
_MONEY = _KIND[RULES.money_kind.name]
_PER_EVENT = [_KIND[flow.name] for flow in RULES.flows if flow.per_event]
_SPLIT = [(number, VISIT_CODES.index(value)) for value, number in SPLIT.items()]
_OPEN_COLUMNS = [
    [STAGE_CODES.index(stage) + 1 for stage in group.stages] for group in RULES.open_groups
]
"""Per open number, its stages' columns in `_opens`' counts (column 0 is the stage None)."""


def _counting(columns: Columns, start: datetime, end: datetime, known_at: datetime) -> I64:
    """The rows meeting `_counting`'s WHERE: in the period, recorded by `known_at`, not
    retracted by then (only the period's slice of the sorted facts, and the tail, are read)."""
    low, high, k = micros(start), micros(end), micros(known_at)
    facts = columns.facts
    ordered, tail = columns.fact_slices(low, high)
    # The sorted slice occurred in [low, high) by construction; the tail is checked whole.
    known = (facts.recorded[ordered] <= k) & (facts.retracted[ordered] > k)
    occurred = facts.occurred[tail]
    in_period = np.flatnonzero((occurred >= low) & (occurred < high)) + tail.start
    known_late = (facts.recorded[in_period] <= k) & (facts.retracted[in_period] > k)
    return np.concatenate((np.flatnonzero(known) + ordered.start, in_period[known_late]))


def _keys(
    columns: Columns, facts: Facts, group_by: GroupBy, history: TeamHistory
) -> tuple[I32, list[str | None]]:
    """Each fact's key as a code into the returned names (the last name is the None key)."""
    if group_by == "all":
        return np.zeros(len(facts.rep), dtype=np.int32), [ALL_KEY, None]
    if group_by == "account":
        raise ValueError("the copy holds no deal's account: rows by account come from SQL")
    if group_by == "rep":
        names: list[str | None] = [*columns.reps.names, None]
        return np.where(facts.rep < 0, len(names) - 1, facts.rep).astype(np.int32), names
    return team_keys(facts.rep, facts.occurred, columns.reps, history)


def team_keys(
    rep: I32, occurred: I64, rep_codes: Codes, history: TeamHistory
) -> tuple[I32, list[str | None]]:
    """Each fact's team at its `occurred` as a code into the returned names (last: None)."""
    reps, teams, starts, ends = team_intervals(history)
    names = sorted(set(teams))
    code = {team: number for number, team in enumerate(names)}
    keys = team_codes(
        rep,
        occurred,
        np.array([rep_codes.index.get(name, -1) for name in reps], dtype=np.int64),
        np.array([micros(start) for start in starts], dtype=np.int64),
        np.array([NEVER if end is None else micros(end) for end in ends], dtype=np.int64),
        np.array([code[team] for team in teams], dtype=np.int32),
        none=len(names),
    )
    return keys, [*names, None]


def team_codes(
    rep: I32, occurred: I64, reps: I64, starts: I64, ends: I64, teams: I32, *, none: int
) -> I32:
    """Each fact's team: the code in `teams` of the interval of its `rep` holding `occurred`.

    The intervals (`reps`, `starts`, `ends`, `teams`, aligned; `ends` exclusive) of one rep do
    not overlap. A fact's rep and instant become one sortable number, rep * span + offset in the
    span of the facts' instants, so one `searchsorted` finds every fact's interval; a fact with
    no rep (-1), or outside every interval of its rep, gets `none`.
    """
    keys = np.full(len(rep), none, dtype=np.int32)
    known = reps >= 0
    if not len(rep) or not known.any():
        return keys
    reps, starts, ends, teams = reps[known], starts[known], ends[known], teams[known]
    low, high = int(occurred.min()), int(occurred.max())
    span = high - low + 2  # facts sit at offsets 0 .. high - low; high - low + 1 is past them
    if (int(max(reps.max(), rep.max())) + 1) * span >= 2**62:  # spans of millennia: stay exact
        return team_codes_by_interval(rep, occurred, reps, starts, ends, teams, keys)
    order = np.lexsort((starts, reps))
    reps, starts, ends, teams = reps[order], starts[order], ends[order], teams[order]
    start_keys = reps * span + (np.clip(starts, low, high + 1) - low)
    end_keys = reps * span + (np.clip(ends, low, high + 1) - low)
    fact_keys = rep.astype(np.int64) * span + (occurred - low)
    found = np.searchsorted(start_keys, fact_keys, side="right") - 1
    inside = (found >= 0) & (rep >= 0)
    candidate = np.where(inside, found, 0)
    inside &= (reps[candidate] == rep) & (fact_keys < end_keys[candidate])
    keys[inside] = teams[candidate[inside]]
    return keys


def team_codes_by_interval(
    rep: I32, occurred: I64, reps: I64, starts: I64, ends: I64, teams: I32, keys: I32
) -> I32:
    """`team_codes` one interval at a time, into `keys` (filled with the `none` code)."""
    for rep_code, team, valid_from, valid_to in zip(reps, teams, starts, ends, strict=True):
        keys[(rep == rep_code) & (occurred >= valid_from) & (occurred < valid_to)] = team
    return keys


def board_parts(
    columns: Columns,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    history: TeamHistory,
) -> BoardParts:
    """The rows `scoreboard_query.board_parts` reads from SQL, from the columns."""
    index = _counting(columns, start, end, known_at)
    facts = columns.facts.take(index, money=False)
    keys, names = _keys(columns, facts, group_by, history)
    size = len(names)
    own_flag = facts.repeats_for_rep if group_by == "rep" else facts.repeats_for_deal
    per_key: dict[str, list[int]] = {}
    totals: dict[str, int] = {}
    for kind, name in DEAL_KINDS.items():
        of_kind = facts.kind == _KIND[kind]
        per_key[name] = np.bincount(keys[of_kind & ~own_flag], minlength=size).tolist()
        totals[f"total_{name}"] = int(np.count_nonzero(of_kind & ~facts.repeats_for_deal))
    for name, code in _SPLIT:
        visits = facts.visit == code
        per_key[name] = np.bincount(keys[visits], minlength=size).tolist()
        totals[name] = int(np.count_nonzero(visits))
    _count_events(facts, keys, size, per_key, totals)
    present = np.bincount(keys, minlength=size).tolist()
    flow: list[tuple[str | None, bool, dict[str, int]]] = [
        (names[code], False, {name: counts[code] for name, counts in per_key.items()})
        for code in range(size)
        if present[code]
    ]
    flow.append((None, True, totals))
    return BoardParts(
        flow=flow,
        repeats=_repeats(columns, facts, keys, names),
        values=_values(facts, keys, names, columns.facts, index),
        opens=_opens(columns, just_before(end), known_at),
    )


def _count_events(
    facts: Facts, keys: I32, size: int, per_key: dict[str, list[int]], totals: dict[str, int]
) -> None:
    """`_event_counts`: each event kind's count, sub-count and measure, per key and overall."""
    for flow in RULES.event_kinds:
        of_kind = facts.kind == _KIND[flow.name]
        per_key[flow.number] = np.bincount(keys[of_kind], minlength=size).tolist()
        totals[flow.number] = int(np.count_nonzero(of_kind))
        if flow.subcount is not None:
            number = flow.subcount.number
            counted = of_kind & (facts.visit == VISIT_CODES.index(number))
            per_key[number] = np.bincount(keys[counted], minlength=size).tolist()
            totals[number] = int(np.count_nonzero(counted))
        if flow.measure is not None:
            weights = np.where(of_kind, facts.measure, 0)
            per_key[flow.measure.number] = integer_sums(keys, weights, size).tolist()
            totals[flow.measure.number] = int(weights.sum())


_EXACT_IN_FLOAT = 2**53
"""Integers up to this are exact in float64, and so is every sum that stays below it."""


def integer_sums(keys: I32, weights: Whole, size: int) -> I64:
    """Per key code (0 .. size - 1), the exact sum of its `weights`.

    `np.bincount` sums in float64, exactly while every partial sum stays below 2**53 (checked
    first: the count times the largest magnitude); `np.add.at`, exact at any size, took a
    fifth of a cold scoreboard's time at ten million events.
    """
    if len(weights):
        largest = max(abs(int(weights.max())), abs(int(weights.min())))
        if largest * len(weights) >= _EXACT_IN_FLOAT:
            sums = np.zeros(size, dtype=np.int64)
            np.add.at(sums, keys, weights.astype(np.int64))
            return sums
    counted: I64 = np.bincount(keys, weights=weights, minlength=size).astype(np.int64)
    return counted


def _repeats(
    columns: Columns, facts: Facts, keys: I32, names: list[str | None]
) -> list[tuple[str | None, str, str, bool]]:
    """`_repeats_sql`: distinct (key, kind, deal, repeats_for_rep) of repeated deal facts."""
    rows = np.flatnonzero(facts.repeats_for_deal & ~np.isin(facts.kind, _PER_EVENT))
    found = {
        (
            names[int(keys[row])],
            FLOW_KIND_CODES[int(facts.kind[row])],
            columns.deals.names[int(facts.deal[row])],
            bool(facts.repeats_for_rep[row]),
        )
        for row in rows
    }
    return list(found)


def _latest(groups: tuple[I32, ...], occurred: I64, position: Whole) -> I64:
    """Indices of the latest (by `occurred`, then `position`) element of each group.

    A group is a run of equal values in every array of `groups` (all aligned).
    """
    keys: list[Whole] = [position, occurred, *reversed(groups)]
    order = np.lexsort(keys)
    last = np.zeros(len(order), dtype=np.bool_)
    if len(order):
        last[-1] = True
    for column in groups:
        ordered = column[order]
        last[:-1] |= ordered[:-1] != ordered[1:]
    chosen: I64 = order[last]
    return chosen


def _values(
    facts: Facts, keys: I32, names: list[str | None], money: Facts, index: I64
) -> list[tuple[bool, str | None, str, Decimal]]:
    """`_value_sql`: per key and overall, each deal's latest counting signing, summed.

    `facts` are the counting rows without their money; row i's amount and currency are those
    of row `index[i]` of `money` (every row).
    """
    rows = np.flatnonzero(facts.kind == _MONEY)
    occurred, position, deals = facts.occurred[rows], facts.position[rows], facts.deal[rows]
    chosen = [
        (False, rows[_latest((keys[rows], deals), occurred, position)]),
        (True, rows[_latest((deals,), occurred, position)]),
    ]
    found: list[tuple[bool, str | None, str, Decimal]] = []
    for is_total, latest in chosen:
        codes = np.zeros(len(latest), dtype=np.int32) if is_total else keys[latest]
        at = index[latest]
        found.extend(
            (is_total, None if is_total else names[code], currency, value)
            for code, currency, value in group_sums(
                codes,
                money.currency_number[at],
                money.units[at],
                money.exponent[at],
                positions=money.position[at],
                odd=money.odd_money,
            )
        )
    return found


def _at(columns: Columns, instant: datetime, known_at: datetime, *, open_only: bool) -> I64:
    """The rows of the segments that cover (`instant`, `known_at`); with `open_only`, at least
    those of an open stage (`Columns.segments_valid_after`)."""
    segments = columns.segments
    t, k = micros(instant), micros(known_at)
    *runs, tail = columns.segments_valid_after(t, open_only=open_only)
    found = []
    for rows in [*runs, tail]:
        covers = (
            (segments.valid_from[rows] <= t)
            & (segments.known_from[rows] <= k)
            & (segments.known_to[rows] > k)
        )
        if rows is tail:  # the sorted runs' rows are valid after `t` by construction
            covers &= segments.valid_to[rows] > t
        found.append(np.flatnonzero(covers) + rows.start)
    covering: I64 = np.concatenate(found)
    return covering


def _opens(columns: Columns, instant: datetime, known_at: datetime) -> list[tuple[Any, ...]]:
    """`_open_sql`: per owner, the open numbers then (`RULES.open_groups`).

    Only the segments of an open stage need be read (and the unsorted tail is read whole): the
    others count in no open number, and an owner whose numbers are all zero gets no row.
    """
    covering = _at(columns, instant, known_at, open_only=True)
    owners = columns.segments.owner[covering]
    stages = columns.segments.stage[covering]
    size = len(columns.reps.names) + 1
    # One count per (owner, stage): owner None as the last code, stage None (-1) as column 0.
    codes = np.where(owners < 0, size - 1, owners).astype(np.int64)
    width = len(STAGE_CODES) + 1
    counts = np.bincount(codes * width + (stages + 1), minlength=size * width)
    counts = counts.reshape(size, width)
    present = counts.sum(axis=1).tolist()
    groups = [counts[:, stages].sum(axis=1).tolist() for stages in _OPEN_COLUMNS]
    return [
        (columns.reps.name(code if code < size - 1 else -1), *(group[code] for group in groups))
        for code in range(size)
        if present[code]
    ]


def funnel(
    columns: Columns, *, as_of: datetime, known_at: datetime, rep_id: str | None
) -> dict[str, int]:
    """`scoreboard_query.funnel` from the columns: deals per stage at (`as_of`, `known_at`)."""
    stages = dict.fromkeys(STAGES, 0)
    rows = _at(columns, as_of, known_at, open_only=False)
    rows = rows[columns.segments.stage[rows] >= 0]
    if rep_id is not None:
        owner = columns.reps.index.get(rep_id)
        if owner is None:
            return stages
        rows = rows[columns.segments.owner[rows] == owner]
    counts = np.bincount(columns.segments.stage[rows], minlength=len(STAGE_CODES)).tolist()
    for stage, count in zip(STAGES, counts, strict=True):
        stages[stage] = count
    return stages

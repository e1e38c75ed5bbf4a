"""The scoreboard's rows and the funnel computed from the in-memory columns.

Each function answers exactly what its SQL twin in `service/store/queries/scoreboard.py` answers
(the same conditions, term by term), so `assemble` makes the same `Scoreboard` from either;
`tests/integration/test_read_models.py` checks both against the pure fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from service.projections.deal import STAGES
from service.projections.rules import RULES, just_before
from service.projections.scoreboard import ALL_KEY, GroupBy
from service.projections.teams import TeamHistory
from service.store.mirror.columns import (
    FLOW_KIND_CODES,
    I32,
    I64,
    MONEY_COLUMNS,
    NEVER,
    STAGE_CODES,
    STAGE_WIDTH,
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
_COUNTED_ONCE = np.array([False, *(not flow.per_event for flow in RULES.flows)])
"""By kind code + 1 (an unknown kind is -1): whether its facts count once per deal."""
_LEFT_BEHIND = MONEY_COLUMNS | {"recorded", "retracted"}
"""The facts' columns a board leaves behind once the counting rows are found (the few rows'
money is read from the full columns)."""
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
    dead = columns.facts_dead
    if dead is not None:
        known &= ~dead[ordered]
        known_late &= ~dead[in_period]
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
    facts = columns.facts.take(index, leave_out=_LEFT_BEHIND)
    keys, names = _keys(columns, facts, group_by, history)
    size = len(names)
    numbers, per_key, totals = _flow_counts(facts, keys, size, own_is_rep=group_by == "rep")
    flow: list[tuple[str | None, bool, dict[str, int]]] = [
        (names[code], False, dict(zip(numbers, row, strict=True))) for code, row in per_key
    ]
    flow.append((None, True, totals))
    return BoardParts(
        flow=flow,
        repeats=_repeats(
            len(columns.deals.names), facts, keys, names, own_is_rep=group_by == "rep"
        ),
        values=_values(facts, keys, names, columns.facts, index),
        opens=_opens(columns, just_before(end), known_at),
    )


_KINDS = len(FLOW_KIND_CODES) + 1
_VISITS = len(VISIT_CODES) + 1
_CLASSES = _KINDS * _VISITS * 4
"""A fact's class: its kind, its visit code (each + 1: an unknown code is -1) and its two
repeat flags, as one number (`_classes`); every count is a sum over some classes."""


def _classes(facts: Facts) -> I64:
    """Each fact's class (`_CLASSES`)."""
    kind = facts.kind.astype(np.int64) + 1
    visit = facts.visit.astype(np.int64) + 1
    flags = facts.repeats_for_rep.astype(np.int64) * 2 + facts.repeats_for_deal
    classes: I64 = (kind * _VISITS + visit) * 4 + flags
    return classes


def _class_mask(
    *, kind: str | None = None, visit: str | None = None, own: str | None = None
) -> npt.NDArray[np.float64]:
    """1.0 for the classes of `kind` (any if None) with `visit` (any if None) whose flag `own`
    ("rep": `repeats_for_rep`, "deal": `repeats_for_deal`; None: either) is false."""
    kinds = np.arange(_CLASSES) // (_VISITS * 4) - 1
    visits = np.arange(_CLASSES) // 4 % _VISITS - 1
    flags = np.arange(_CLASSES) % 4
    chosen = np.ones(_CLASSES, dtype=np.bool_)
    if kind is not None:
        chosen &= kinds == _KIND[kind]
    if visit is not None:
        chosen &= visits == VISIT_CODES.index(visit)
    if own == "rep":
        chosen &= flags & 2 == 0
    elif own == "deal":
        chosen &= flags & 1 == 0
    return chosen.astype(np.float64)


@dataclass(frozen=True, slots=True)
class _CountMasks:
    """The counted numbers, and for each a column of 1.0s over the classes it counts per key
    and overall: `_flow_sql`'s and `_event_counts`' FILTERs, from the same rule table."""

    names: list[str]
    """Each number's name in a key's row."""
    total_names: list[str]
    """Its name in the totals' row (a deal kind's: `total_` and its name)."""
    per_key: npt.NDArray[np.float64]
    overall: npt.NDArray[np.float64]


def _count_masks(own: str) -> _CountMasks:
    """The masks when a key's own repeats are flagged by `own` ("rep" or "deal"); overall,
    a deal kind leaves out the repeats for the deal."""
    names: list[str] = []
    total_names: list[str] = []
    per_key: list[npt.NDArray[np.float64]] = []
    overall: list[npt.NDArray[np.float64]] = []

    def add(name: str, key: npt.NDArray[np.float64], total: npt.NDArray[np.float64]) -> None:
        names.append(name)
        total_names.append(f"total_{name}" if name in DEAL_KINDS.values() else name)
        per_key.append(key)
        overall.append(total)

    for kind, name in DEAL_KINDS.items():
        add(name, _class_mask(kind=kind, own=own), _class_mask(kind=kind, own="deal"))
    for value, name in SPLIT.items():
        mask = _class_mask(visit=value)
        add(name, mask, mask)
    for flow in RULES.event_kinds:
        mask = _class_mask(kind=flow.name)
        add(flow.number, mask, mask)
        if flow.subcount is not None:
            sub = _class_mask(kind=flow.name, visit=flow.subcount.number)
            add(flow.subcount.number, sub, sub)
    return _CountMasks(names, total_names, np.stack(per_key, axis=1), np.stack(overall, axis=1))


_COUNT_MASKS = {own: _count_masks(own) for own in ("rep", "deal")}


def _flow_counts(
    facts: Facts, keys: I32, size: int, *, own_is_rep: bool
) -> tuple[list[str], list[tuple[int, list[int]]], dict[str, int]]:
    """`_flow_sql`: the numbers' names, then (key code, each number) of every key with a
    counting fact, and the totals: every count and measure.

    One `bincount` of (key, class) pairs; each number per key is then the sum of its classes'
    columns (a product with `_COUNT_MASKS`, in float64: exact, as every count is below 2**53).
    """
    masks = _COUNT_MASKS["rep" if own_is_rep else "deal"]
    pairs = keys.astype(np.int64) * _CLASSES + _classes(facts)
    counts = np.bincount(pairs, minlength=size * _CLASSES).reshape(size, _CLASSES)
    as_float = counts.astype(np.float64)
    by_key = (as_float @ masks.per_key).astype(np.int64)
    overall = (as_float.sum(axis=0) @ masks.overall).astype(np.int64).tolist()
    numbers = list(masks.names)
    totals = dict(zip(masks.total_names, overall, strict=True))
    for flow in RULES.event_kinds:
        if flow.measure is not None:
            weights = np.where(facts.kind == _KIND[flow.name], facts.measure, 0)
            by_key = np.column_stack((by_key, integer_sums(keys, weights, size)))
            numbers.append(flow.measure.number)
            totals[flow.measure.number] = int(weights.sum())
    present = np.flatnonzero(counts.any(axis=1))
    return numbers, list(zip(present.tolist(), by_key[present].tolist(), strict=True)), totals


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
    deal_codes: int, facts: Facts, keys: I32, names: list[str | None], *, own_is_rep: bool
) -> list[tuple[str | None, bool, str, int]]:
    """`_repeats_sql`: per (key, kind) and per kind overall, the distinct deals among the
    repeated deal facts (by rep, a rep's own repeats only); `deal_codes` deal codes exist."""
    counted = facts.repeats_for_deal & _COUNTED_ONCE[facts.kind + 1]
    rows = np.flatnonzero(counted)
    width = max(deal_codes, 1)
    kinds = facts.kind[rows].astype(np.int64)
    deal = facts.deal[rows].astype(np.int64)
    found: list[tuple[str | None, bool, str, int]] = []
    overall = np.bincount(np.unique(kinds * width + deal) // width, minlength=_KINDS)
    found.extend(
        (None, True, FLOW_KIND_CODES[kind], int(overall[kind]))
        for kind in np.flatnonzero(overall).tolist()
    )
    own = facts.repeats_for_rep[rows] if own_is_rep else np.ones(len(rows), dtype=np.bool_)
    pairs = keys[rows][own].astype(np.int64) * _KINDS + kinds[own]
    per_pair = np.bincount(
        np.unique(pairs * width + deal[own]) // width, minlength=len(names) * _KINDS
    )
    found.extend(
        (names[pair // _KINDS], False, FLOW_KIND_CODES[pair % _KINDS], int(per_pair[pair]))
        for pair in np.flatnonzero(per_pair).tolist()
    )
    return found


def _latest_of_each(groups: I64) -> I64:
    """Indices of the last element of each group (elements of equal `groups` codes)."""
    _, first_from_the_end = np.unique(groups[::-1], return_index=True)
    latest: I64 = len(groups) - 1 - first_from_the_end
    return latest


def _values(
    facts: Facts, keys: I32, names: list[str | None], money: Facts, index: I64
) -> list[tuple[bool, str | None, str, Decimal]]:
    """`_value_sql`: per key and overall, each deal's latest counting signing, summed.

    `facts` are the counting rows without their money; row i's amount and currency are those
    of row `index[i]` of `money` (every row). The signings are put in time order (`occurred`,
    then `position`) once; a deal's latest, per key or overall, is then its last.
    """
    rows = np.flatnonzero(facts.kind == _MONEY)
    rows = rows[np.lexsort((facts.position[rows], facts.occurred[rows]))]
    deals = facts.deal[rows].astype(np.int64)
    per_key = keys[rows].astype(np.int64) * (int(deals.max(initial=0)) + 1) + deals
    chosen = [
        (False, rows[_latest_of_each(per_key)]),
        (True, rows[_latest_of_each(deals)]),
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
    """The rows, but for the current run's, of the segments that cover (`instant`,
    `known_at`); with `open_only`, at least those of an open stage
    (`Columns.segments_covering`)."""
    segments, dead = columns.segments, columns.segments_dead
    t, k = micros(instant), micros(known_at)
    found = []
    for rows in columns.segments_covering(t, k, open_only=open_only):
        covers = (
            (segments.valid_from[rows] <= t)
            & (segments.valid_to[rows] > t)
            & (segments.known_from[rows] <= k)
            & (segments.known_to[rows] > k)
        )
        if dead is not None:
            covers &= ~dead[rows]
        found.append(np.flatnonzero(covers) + rows.start)
    covering: I64 = np.concatenate(found)
    return covering


def _stage_counts(
    columns: Columns, instant: datetime, known_at: datetime, *, open_only: bool
) -> I64:
    """Per owner (rep codes, then None last) and stage (None, then each code), the segments
    covering (`instant`, `known_at`): the rows read, plus the current run's counts. With
    `open_only`, only the open stages' columns are sure to be right."""
    segments = columns.segments
    rows = _at(columns, instant, known_at, open_only=open_only)
    size = len(columns.reps.names) + 1
    owners = segments.owner[rows]
    codes = np.where(owners < 0, size - 1, owners).astype(np.int64)
    counts = np.bincount(
        codes * STAGE_WIDTH + (segments.stage[rows] + 1), minlength=size * STAGE_WIDTH
    ).reshape(size, STAGE_WIDTH)
    run = columns.current_run()
    current = columns.current.counts(
        segments.valid_from[run],
        segments.owner[run],
        segments.stage[run],
        instant=micros(instant),
        known_at=micros(known_at),
        dead=columns.dead_current,
        known_from=segments.known_from[run],
    )
    counts[: columns.current.owners] += current[1:]
    counts[size - 1] += current[0]
    return counts


def _opens(columns: Columns, instant: datetime, known_at: datetime) -> list[tuple[Any, ...]]:
    """`_open_sql`: per owner, the open numbers then (`RULES.open_groups`).

    Only the segments of an open stage need be read (and the unsorted tail is read whole): the
    others count in no open number, and an owner whose numbers are all zero gets no row.
    """
    counts = _stage_counts(columns, instant, known_at, open_only=True)
    size = len(counts)
    groups = np.stack([counts[:, stages].sum(axis=1) for stages in _OPEN_COLUMNS], axis=1)
    present = np.flatnonzero(groups.any(axis=1)).tolist()
    numbers = groups.tolist()
    return [
        (columns.reps.name(code if code < size - 1 else -1), *numbers[code]) for code in present
    ]


def funnel(
    columns: Columns, *, as_of: datetime, known_at: datetime, rep_id: str | None
) -> dict[str, int]:
    """`scoreboard_query.funnel` from the columns: deals per stage at (`as_of`, `known_at`)."""
    counts = _stage_counts(columns, as_of, known_at, open_only=False)
    if rep_id is None:
        per_stage = counts.sum(axis=0)
    else:
        owner = columns.reps.index.get(rep_id)
        if owner is None:
            return dict.fromkeys(STAGES, 0)
        per_stage = counts[owner]
    return dict(zip(STAGES, per_stage[1:].tolist(), strict=True))

"""The scoreboard's rows and the funnel computed from the in-memory columns.

Each function answers exactly what its SQL twin in `service/store/scoreboard_query.py` answers
(the same conditions, term by term), so `assemble` makes the same `Scoreboard` from either;
`tests/integration/test_read_models.py` checks both against the pure fold.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from service.projections.deal import STAGES
from service.projections.scoreboard import ALL_KEY, GroupBy
from service.projections.teams import TeamHistory
from service.store.mirror_columns import (
    FLOW_KIND_CODES,
    I32,
    I64,
    STAGE_CODES,
    VISIT_CODES,
    Columns,
    Facts,
    Flags,
    micros,
)
from service.store.mirror_sums import group_sums
from service.store.scoreboard_query import DEAL_KINDS, BoardParts
from service.store.teams_query import team_intervals

_JUST_BEFORE = timedelta(microseconds=1)
_KIND = {name: code for code, name in enumerate(FLOW_KIND_CODES)}
_FSI, _FUA = VISIT_CODES.index("FSI"), VISIT_CODES.index("FUA")
_LEAD = STAGE_CODES.index("lead")
_COMMITTED = STAGE_CODES.index("committed")
_OPEN_OPPORTUNITY = [STAGE_CODES.index(s) for s in ("opportunity", "eb_committed", "committed")]


def _counting(facts: Facts, start: datetime, end: datetime, known_at: datetime) -> Flags:
    """`_counting`'s WHERE: in the period, recorded by `known_at`, not retracted by then."""
    k = micros(known_at)
    return (
        (facts.occurred >= micros(start))
        & (facts.occurred < micros(end))
        & (facts.recorded <= k)
        & (facts.retracted > k)
    )


def _keys(
    columns: Columns, facts: Facts, group_by: GroupBy, history: TeamHistory
) -> tuple[I32, list[str | None]]:
    """Each fact's key as a code into the returned names (the last name is the None key)."""
    if group_by == "all":
        return np.zeros(len(facts.rep), dtype=np.int32), [ALL_KEY, None]
    if group_by == "rep":
        names: list[str | None] = [*columns.reps.names, None]
        return np.where(facts.rep < 0, len(names) - 1, facts.rep).astype(np.int32), names
    reps, teams, starts, ends = team_intervals(history)
    team_names = sorted(set(teams))
    team_code = {team: code for code, team in enumerate(team_names)}
    keys = np.full(len(facts.rep), len(team_names), dtype=np.int32)
    for rep, team, valid_from, valid_to in zip(reps, teams, starts, ends, strict=True):
        rep_code = columns.reps.index.get(rep)
        if rep_code is None:
            continue
        rows = (facts.rep == rep_code) & (facts.occurred >= micros(valid_from))
        if valid_to is not None:
            rows &= facts.occurred < micros(valid_to)
        keys[rows] = team_code[team]
    return keys, [*team_names, None]


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
    index = np.flatnonzero(_counting(columns.facts, start, end, known_at))
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
    for name, code in (("fsi_visits", _FSI), ("fua_visits", _FUA)):
        visits = facts.visit == code
        per_key[name] = np.bincount(keys[visits], minlength=size).tolist()
        totals[name] = int(np.count_nonzero(visits))
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
        opens=_opens(columns, end - _JUST_BEFORE, known_at),
    )


def _repeats(
    columns: Columns, facts: Facts, keys: I32, names: list[str | None]
) -> list[tuple[str | None, str, str, bool]]:
    """`_repeats_sql`: distinct (key, kind, deal, repeats_for_rep) of repeated deal facts."""
    rows = np.flatnonzero(facts.repeats_for_deal & (facts.kind != _KIND["visit"]))
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


def _latest(groups: tuple[I32, ...], occurred: I64, position: I64) -> I64:
    """Indices of the latest (by `occurred`, then `position`) element of each group.

    A group is a run of equal values in every array of `groups` (all aligned).
    """
    keys: list[I32 | I64] = [position, occurred, *reversed(groups)]
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
    rows = np.flatnonzero(facts.kind == _KIND["signed"])
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
                amounts=money.amount,
                currency_texts=money.currency,
                rows=at,
            )
        )
    return found


def _at(columns: Columns, instant: datetime, known_at: datetime) -> Flags:
    """The segments that cover (`instant`, `known_at`)."""
    segments = columns.segments
    t, k = micros(instant), micros(known_at)
    return (
        (segments.valid_from <= t)
        & (segments.valid_to > t)
        & (segments.known_from <= k)
        & (segments.known_to > k)
    )


def _opens(
    columns: Columns, instant: datetime, known_at: datetime
) -> list[tuple[str | None, int, int, int]]:
    """`_open_sql`: per owner, open leads, opportunities and committed deals then."""
    covering = np.flatnonzero(_at(columns, instant, known_at))
    owners = columns.segments.owner[covering]
    stages = columns.segments.stage[covering]
    size = len(columns.reps.names) + 1
    # One count per (owner, stage): owner None as the last code, stage None (-1) as column 0.
    codes = np.where(owners < 0, size - 1, owners).astype(np.int64)
    width = len(STAGE_CODES) + 1
    counts = np.bincount(codes * width + (stages + 1), minlength=size * width)
    counts = counts.reshape(size, width)
    present = counts.sum(axis=1).tolist()
    leads = counts[:, _LEAD + 1].tolist()
    opportunities = counts[:, [stage + 1 for stage in _OPEN_OPPORTUNITY]].sum(axis=1).tolist()
    committed = counts[:, _COMMITTED + 1].tolist()
    return [
        (
            columns.reps.name(code if code < size - 1 else -1),
            leads[code],
            opportunities[code],
            committed[code],
        )
        for code in range(size)
        if present[code]
    ]


def funnel(
    columns: Columns, *, as_of: datetime, known_at: datetime, rep_id: str | None
) -> dict[str, int]:
    """`scoreboard_query.funnel` from the columns: deals per stage at (`as_of`, `known_at`)."""
    stages = dict.fromkeys(STAGES, 0)
    rows = _at(columns, as_of, known_at) & (columns.segments.stage >= 0)
    if rep_id is not None:
        owner = columns.reps.index.get(rep_id)
        if owner is None:
            return stages
        rows &= columns.segments.owner == owner
    counts = np.bincount(columns.segments.stage[rows], minlength=len(STAGE_CODES)).tolist()
    for stage, count in zip(STAGES, counts, strict=True):
        stages[stage] = count
    return stages

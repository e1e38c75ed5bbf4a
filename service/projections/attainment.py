"""Targets scaled to a scoreboard's period, attached to its rows (docs/targets.md).

One pure function serves the SQL scoreboard and `compute_scoreboard` alike, so both answer the
same targets and attainment for the same known plan.
"""

from __future__ import annotations

import calendar
import dataclasses
from datetime import date, datetime, timedelta, tzinfo
from fractions import Fraction

from service.events.vocabulary import REP_SUBJECT_PREFIX, TEAM_SUBJECT_PREFIX
from service.projections.periods import start_of
from service.projections.scoreboard import ALL_KEY, Goals, Scoreboard, ScoreNumbers, ScoreRow
from service.projections.targets import METRICS, Plan, priorities_at, target_at
from service.projections.teams import TeamHistory, team_at

Weights = dict[str, Fraction]
"""Target period → how many of it the scoreboard period holds."""
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_UNITS = ("day", "week", "month", "quarter")
_MONTHS_IN = {"month": 1, "quarter": 3}


def _unit_index(day: date, months: int) -> int:
    """Which month (`months` 1) or quarter (3) since year 0 holds `day`."""
    return (day.year * 12 + day.month - 1) // months


def _unit_first(index: int, months: int) -> date:
    first_month = index * months
    return date(first_month // 12, first_month % 12 + 1, 1)


def _unit_days(day: date, months: int) -> int:
    """How many days the month or quarter holding `day` has."""
    first_month = (day.month - 1) // months * months + 1
    return sum(
        calendar.monthrange(day.year, month)[1]
        for month in range(first_month, first_month + months)
    )


def _whole_days_in_units(first: date, after: date, months: int) -> Fraction:
    """Σ 1/len(unit of d) over the whole days d of [first, after): in closed form."""
    if after <= first:
        return Fraction(0)
    head, tail = _unit_index(first, months), _unit_index(after, months)
    if head == tail:
        return Fraction((after - first).days, _unit_days(first, months))
    # The rest of the first unit, every unit in between whole, and the start of the last one.
    rest = Fraction((_unit_first(head + 1, months) - first).days, _unit_days(first, months))
    begun = _unit_first(tail, months)
    start = Fraction((after - begun).days, _unit_days(begun, months))
    return rest + (tail - head - 1) + start


def _share(day: date, start: datetime, end: datetime, tz: tzinfo) -> Fraction:
    """The share of calendar `day` (in `tz`) that [start, end) covers (0 when none)."""
    day_start, day_end = start_of(day, tz), start_of(day + _DAY, tz)
    covered = min(end, day_end) - max(start, day_start)
    if covered <= timedelta(0):
        return Fraction(0)
    return Fraction(covered // _MICROSECOND, (day_end - day_start) // _MICROSECOND)


def _last_day(start_day: date, end: datetime, tz: tzinfo) -> date:
    """The last calendar day (in `tz`) that begins before `end`."""
    day = max(start_day, end.astimezone(tz).date())
    while day > start_day and start_of(day, tz) >= end:
        day -= _DAY
    return day


def period_weights(start: datetime, end: datetime, tz: tzinfo) -> Weights:
    """How many days, weeks, months and quarters [start, end) holds, calendar-exactly.

    Each day of the period (in the company time zone) counts as 1/7 of its week, 1/n of its
    n-day month and 1/m of its m-day quarter; a day the period only partly covers, pro rata.
    Computed in closed form from the first and last days: the cost does not grow with the span.
    (A calendar day a zone skips altogether, such as 2011-12-30 in Samoa, counts as a whole day
    when it lies inside the period.)
    """
    first = start.astimezone(tz).date()
    last = _last_day(first, end, tz)
    edges = {first: _share(first, start, end, tz), last: _share(last, start, end, tz)}
    days = sum(edges.values(), Fraction(max((last - first).days - 1, 0)))
    weights = {"day": days, "week": days / 7}
    for unit, months in _MONTHS_IN.items():
        whole = _whole_days_in_units(first + _DAY, last, months)
        weights[unit] = whole + sum(
            (share / _unit_days(day, months) for day, share in edges.items()), Fraction(0)
        )
    return {unit: weights[unit] for unit in _UNITS}


def _scaled(
    known: Plan, subject: str, metric: str, start: datetime, weights: Weights
) -> Fraction | None:
    target = target_at(known, subject, metric, start)
    return None if target is None else Fraction(target.value) * weights[target.period]


def _targets(known: Plan, subject: str, start: datetime, weights: Weights) -> dict[str, Fraction]:
    found = {metric: _scaled(known, subject, metric, start, weights) for metric in METRICS}
    return {metric: value for metric, value in found.items() if value is not None}


def _sum_targets(
    known: Plan, prefix: str, start: datetime, weights: Weights
) -> dict[str, Fraction]:
    totals: dict[str, Fraction] = {}
    for subject in known.subjects(prefix):
        for metric, value in _targets(known, subject, start, weights).items():
            totals[metric] = totals.get(metric, Fraction(0)) + value
    return totals


def _overall(known: Plan, start: datetime, weights: Weights) -> dict[str, Fraction]:
    """Company-wide: the teams' targets summed, or where no team has one, the reps'."""
    teams = _sum_targets(known, TEAM_SUBJECT_PREFIX, start, weights)
    reps = _sum_targets(known, REP_SUBJECT_PREFIX, start, weights)
    merged = {**reps, **teams}
    return {metric: merged[metric] for metric in METRICS if metric in merged}


def _with(
    numbers: ScoreNumbers, targets: dict[str, Fraction], priorities: tuple[str, ...] | None
) -> ScoreNumbers:
    return dataclasses.replace(numbers, goals=Goals(targets, priorities))


def _row_goals(
    board: Scoreboard, row: ScoreRow, known: Plan, teams: TeamHistory, weights: Weights
) -> ScoreRow:
    start = board.start
    if row.key is None:
        return row
    if board.group_by == "all" and row.key == ALL_KEY:
        return ScoreRow(row.key, _with(row.numbers, _overall(known, start, weights), None))
    team: str | None = row.key
    subject = f"{TEAM_SUBJECT_PREFIX}{row.key}"
    if board.group_by == "rep":
        subject, team = f"{REP_SUBJECT_PREFIX}{row.key}", team_at(teams, row.key, start)
    targets = _targets(known, subject, start, weights)
    return ScoreRow(row.key, _with(row.numbers, targets, priorities_at(known, team, start)))


def with_targets(board: Scoreboard, known: Plan, teams: TeamHistory, tz: tzinfo) -> Scoreboard:
    """The scoreboard with each row's and the totals' targets and attainment (docs/targets.md).

    A row's target is its rep's or team's target in force at the period's start, scaled to the
    period; the totals add up every rep's (group_by=rep) or team's (team, all) target.
    """
    weights = period_weights(board.start, board.end, tz)
    if board.group_by == "account":  # accounts have no targets; the totals keep the overall ones
        rows = board.rows
    else:
        rows = tuple(_row_goals(board, row, known, teams, weights) for row in board.rows)
    if board.group_by == "rep":
        totals = _sum_targets(known, REP_SUBJECT_PREFIX, board.start, weights)
    elif board.group_by == "team":
        totals = _sum_targets(known, TEAM_SUBJECT_PREFIX, board.start, weights)
    else:
        totals = _overall(known, board.start, weights)
    return dataclasses.replace(board, rows=rows, totals=_with(board.totals, totals, None))

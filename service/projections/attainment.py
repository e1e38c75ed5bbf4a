"""Targets scaled to a scoreboard's period, attached to its rows (docs/targets.md).

One pure function serves the SQL scoreboard and `compute_scoreboard` alike, so both answer the
same targets and attainment for the same known plan.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from fractions import Fraction
from functools import lru_cache

from service.events.vocabulary import REP_SUBJECT_PREFIX, TEAM_SUBJECT_PREFIX
from service.projections.periods import start_of
from service.projections.scoreboard import ALL_KEY, Goals, Scoreboard, ScoreNumbers, ScoreRow
from service.projections.targets import METRICS, Plan, priorities_at, target_at
from service.projections.teams import TeamHistory, team_at

Weights = dict[str, Fraction]
"""Target period → how many of it the scoreboard period holds."""


def _days_in_quarter(day: date) -> int:
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    after = date(first.year + (first.month + 2) // 12, (first.month + 2) % 12 + 1, 1)
    return (after - first).days


def _unit_days(day: date) -> dict[str, int]:
    return {
        "day": 1,
        "week": 7,
        "month": calendar.monthrange(day.year, day.month)[1],
        "quarter": _days_in_quarter(day),
    }


def _days(start: datetime, end: datetime, tz: tzinfo) -> Iterator[tuple[date, Fraction]]:
    """Each calendar day (in `tz`) that [start, end) touches, with the share of it covered."""
    day = start.astimezone(tz).date()
    while (day_start := start_of(day, tz)) < end:
        day_end = start_of(day + timedelta(days=1), tz)
        covered = min(end, day_end) - max(start, day_start)
        length = day_end - day_start
        if covered > timedelta(0):
            yield (
                day,
                Fraction(covered // timedelta(microseconds=1), length // timedelta(microseconds=1)),
            )
        day += timedelta(days=1)


def period_weights(start: datetime, end: datetime, tz: tzinfo) -> Weights:
    """How many days, weeks, months and quarters [start, end) holds, calendar-exactly.

    Each day of the period (in the company time zone) counts as 1/7 of its week, 1/n of its
    n-day month and 1/m of its m-day quarter; a day the period only partly covers, pro rata.
    """
    # Equal datetimes may differ in zone and fold, which the arithmetic below can see.
    key = (start.tzinfo, start.fold, end.tzinfo, end.fold)
    return dict(_weights(start, end, tz, key))


@lru_cache(maxsize=64)
def _weights(
    start: datetime, end: datetime, tz: tzinfo, _key: tuple[object, ...]
) -> tuple[tuple[str, Fraction], ...]:
    # A pure function of its arguments, and a quarter's 90 days of Fractions cost a cold
    # scoreboard about a millisecond: kept for the few periods that are asked again and again.
    weights = dict.fromkeys(("day", "week", "month", "quarter"), Fraction(0))
    for day, share in _days(start, end, tz):
        for unit, length in _unit_days(day).items():
            weights[unit] += share / length
    return tuple(weights.items())


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
    rows = tuple(_row_goals(board, row, known, teams, weights) for row in board.rows)
    if board.group_by == "rep":
        totals = _sum_targets(known, REP_SUBJECT_PREFIX, board.start, weights)
    elif board.group_by == "team":
        totals = _sum_targets(known, TEAM_SUBJECT_PREFIX, board.start, weights)
    else:
        totals = _overall(known, board.start, weights)
    return dataclasses.replace(board, rows=rows, totals=_with(board.totals, totals, None))

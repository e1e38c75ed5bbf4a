"""Targets scaled to a scoreboard's period, attached to its rows (docs/targets.md).

One pure function serves the SQL scoreboard and `compute_scoreboard` alike, so both answer the
same targets and attainment for the same known plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from fractions import Fraction

from service.events.vocabulary import REP_SUBJECT_PREFIX, TEAM_SUBJECT_PREFIX
from service.projections.periods import start_of
from service.projections.rules import just_before
from service.projections.scoreboard import ALL_KEY, Goals, Scoreboard, ScoreNumbers, ScoreRow
from service.projections.targets import METRICS, Plan, priorities_at, target_at
from service.projections.teams import TeamHistory, team_at
from service.projections.workdays import EVERY_DAY, MONDAY_TO_FRIDAY, WorkCalendar, calendar_at

Weights = dict[str, Fraction]
"""Target period → how many of it the scoreboard period holds."""
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_UNITS = ("day", "week", "month", "quarter")


@dataclass(frozen=True, slots=True)
class _Unit:
    """Weeks (Monday first), months or quarters, numbered in order from year 1."""

    months: int
    """1 for months, 3 for quarters, 0 for weeks."""

    def index(self, day: date) -> int:
        if not self.months:
            return (day.toordinal() - 1) // 7  # 0001-01-01 was a Monday
        return (day.year * 12 + day.month - 1) // self.months

    def first(self, index: int) -> date:
        if not self.months:
            return date.fromordinal(index * 7 + 1)
        first_month = index * self.months
        return date(first_month // 12, first_month % 12 + 1, 1)

    def working_days(self, index: int, calendar: WorkCalendar) -> int:
        return calendar.count(self.first(index), self.first(index + 1))


_UNIT_OF = {"week": _Unit(0), "month": _Unit(1), "quarter": _Unit(3)}


def _ratio(part: int, whole: int) -> Fraction:
    # A unit's working days include the part's: when it has none, the part has none either.
    return Fraction(part, whole) if part else Fraction(0)


def _whole_units(head: int, tail: int, unit: _Unit, calendar: WorkCalendar) -> int:
    """How many units strictly between `head` and `tail` have a working day (each weighs 1)."""
    if tail - head <= 1:
        return 0
    declared = calendar.between(unit.first(head + 1), unit.first(tail))
    candidates = {unit.index(day) for day in declared}
    if not calendar.workweek:  # only declared working days work: count the units holding one
        return sum(1 for index in candidates if unit.working_days(index, calendar))
    # Every unit holds each weekday, so only a unit with a declared holiday can have none.
    empty = sum(1 for index in candidates if not unit.working_days(index, calendar))
    return tail - head - 1 - empty


def _working_share_of_units(
    first: date, after: date, unit: _Unit, calendar: WorkCalendar
) -> Fraction:
    """Σ 1/(working days of d's unit) over the working days d of [first, after): closed form."""
    if after <= first:
        return Fraction(0)
    head, tail = unit.index(first), unit.index(after)
    if head == tail:
        return _ratio(calendar.count(first, after), unit.working_days(head, calendar))
    # The rest of the first unit, every unit in between whole, and the start of the last one.
    rest = _ratio(calendar.count(first, unit.first(head + 1)), unit.working_days(head, calendar))
    begun = unit.first(tail)
    start = _ratio(calendar.count(begun, after), unit.working_days(tail, calendar))
    return rest + _whole_units(head, tail, unit, calendar) + start


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


def working_weights(start: datetime, end: datetime, tz: tzinfo, calendar: WorkCalendar) -> Weights:
    """How many working days, weeks, months and quarters [start, end) holds, exactly.

    Each working day of the period (in the company time zone) counts as 1 day, and as 1/n of
    its week, month or quarter when that unit has n working days; a day the period only partly
    covers counts pro rata; a day that is not a working day counts 0. Computed in closed form
    from the first and last days and the declared dates: the cost does not grow with the span.
    (A calendar day a zone skips altogether, such as 2011-12-30 in Samoa, counts as a whole day
    when it lies inside the period.)
    """
    first = start.astimezone(tz).date()
    last = _last_day(first, end, tz)
    edges = {
        day: share
        for day in {first, last}
        if (share := _share(day, start, end, tz)) and calendar.is_working(day)
    }
    inner_first = first + _DAY
    weights = {"day": sum(edges.values(), Fraction(calendar.count(inner_first, last)))}
    for name, unit in _UNIT_OF.items():
        whole = _working_share_of_units(inner_first, last, unit, calendar)
        weights[name] = whole + sum(
            (share / unit.working_days(unit.index(day), calendar) for day, share in edges.items()),
            Fraction(0),
        )
    return {name: weights[name] for name in _UNITS}


def period_weights(start: datetime, end: datetime, tz: tzinfo) -> Weights:
    """How many calendar days, weeks, months and quarters [start, end) holds: the working
    weights of a calendar where every day works (each day 1/7 of its week, 1/n of its n-day
    month, 1/m of its m-day quarter)."""
    return working_weights(start, end, tz, WorkCalendar(EVERY_DAY))


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


def with_targets(
    board: Scoreboard,
    known: Plan,
    teams: TeamHistory,
    tz: tzinfo,
    workweek: frozenset[int] = MONDAY_TO_FRIDAY,
) -> Scoreboard:
    """The scoreboard with its working days and each row's and the totals' targets and
    attainment (docs/targets.md).

    A row's target is its rep's or team's target in force at the period's start, scaled to the
    period's working days (the company calendar in force at the period's end); the totals add
    up every rep's (group_by=rep) or team's (team, all) target.
    """
    calendar = calendar_at(known, just_before(board.end), workweek)
    weights = working_weights(board.start, board.end, tz, calendar)
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
    return dataclasses.replace(
        board,
        rows=rows,
        totals=_with(board.totals, totals, None),
        working_days=weights["day"],
    )

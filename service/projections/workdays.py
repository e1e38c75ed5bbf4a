"""The company calendar: which dates are working days, and how many a span of dates holds.

A date is a working day when its weekday is in the workweek (`FUNNEL_WORKWEEK`), unless a
`calendar.day_set` declares otherwise: a holiday is a usual working day declared not working, a
make-up working day a usual day off declared working (docs/targets.md). Counting is in closed
form: weekdays by whole weeks, then one correction per declared date, so the cost does not grow
with the span (holidays are few).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime

from service.projections.targets import DayDeclared, Plan

MONDAY_TO_FRIDAY = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """The workweek (weekday numbers, Monday 0) and the dates declared otherwise than it says.

    `exceptions` holds only the dates whose declared state differs from their weekday's.
    """

    workweek: frozenset[int] = MONDAY_TO_FRIDAY
    exceptions: dict[date, bool] = field(default_factory=dict)
    _dates: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dates", tuple(sorted(self.exceptions)))

    def is_working(self, day: date) -> bool:
        """Whether `day` is a working day."""
        found = self.exceptions.get(day)
        return day.weekday() in self.workweek if found is None else found

    def count(self, first: date, after: date) -> int:
        """How many working days [first, after) holds (0 when empty)."""
        days = (after - first).days
        if days <= 0:
            return 0
        weeks, rest = divmod(days, 7)
        start = first.weekday()
        usual = weeks * len(self.workweek) + sum(
            1 for offset in range(rest) if (start + offset) % 7 in self.workweek
        )
        return usual + sum(1 if self.exceptions[day] else -1 for day in self.between(first, after))

    def between(self, first: date, after: date) -> tuple[date, ...]:
        """The exception dates in [first, after), in order."""
        return self._dates[bisect_left(self._dates, first) : bisect_left(self._dates, after)]


def declarations_at(known: Plan, instant: datetime) -> dict[date, DayDeclared]:
    """Per declared date, the declaration in force at `instant`: the latest by then."""
    declared: dict[date, DayDeclared] = {}
    for entry in known.calendar:
        if entry.valid_from > instant:
            break
        declared[entry.day] = entry
    return declared


def calendar_at(known: Plan, instant: datetime, workweek: frozenset[int]) -> WorkCalendar:
    """The company calendar in force at `instant`: per date, the latest declaration by then.

    `known.calendar` is in contract order (valid time, then stored order), so a later entry of
    the same date replaces an earlier one; declarations dated after `instant` are not in force.
    """
    declared: dict[date, bool] = {}
    for entry in known.calendar:
        if entry.valid_from > instant:
            break
        declared[entry.day] = entry.working
    exceptions = {
        day: working for day, working in declared.items() if working != (day.weekday() in workweek)
    }
    return WorkCalendar(workweek, exceptions)

"""A period cut into days, weeks or months of the company calendar, for trends.

Boundaries are local midnights in the company time zone: every day, every Monday (weeks start
on Monday), or every first of a month. The first and the last sub-period are cut by the
period's own ends, so either may be partial.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from service.projections.periods import start_of

Interval = Literal["day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month")


def _next_boundary(day: date, interval: Interval) -> date:
    """The first day after `day` on which a sub-period of `interval` starts."""
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7 - day.weekday())
    index = day.year * 12 + day.month  # the next month's index, months counted from 0
    return date(index // 12, index % 12 + 1, 1)


def sub_periods(
    start: datetime, end: datetime, interval: Interval, tz: tzinfo
) -> Iterator[tuple[datetime, datetime]]:
    """[from, to) of each sub-period of [start, end), in order, covering it without gaps.

    A generator, so that a caller may stop counting beyond a cap without building the rest.
    """
    first = start
    day = start.astimezone(tz).date()
    while first < end:
        day = _next_boundary(day, interval)
        after = min(start_of(day, tz), end)
        if after > first:  # a zone's skipped midnight never makes an empty sub-period
            yield first, after
            first = after

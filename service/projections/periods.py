"""Time in the company time zone: instants, dates and period shortcuts (contract §5)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from service.projections.rules import just_before

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-[Ww](\d{2})$")


def start_of(day: date, tz: tzinfo) -> datetime:
    """00:00 of `day` in `tz`, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def parse_instant(text: str, tz: tzinfo, *, end_of_date: bool) -> datetime:
    """A UTC instant from a date or a date-time; naive date-times are read in `tz`.

    A date is its 00:00 in `tz`, or with `end_of_date` its last microsecond (for `as_of`).
    """
    try:
        return _instant(text, tz, end_of_date=end_of_date)
    except OverflowError:
        raise ValueError(f"{text!r} is out of the supported range of instants") from None


def _instant(text: str, tz: tzinfo, *, end_of_date: bool) -> datetime:
    if _DATE.match(text):
        day = _date(text)
        if end_of_date:
            # `occurred_at <= as_of` must mean "before the next midnight".
            return just_before(start_of(day + timedelta(days=1), tz))
        return start_of(day, tz)
    if not _DATETIME.match(text):
        raise ValueError(f"{text!r} is neither a date (YYYY-MM-DD) nor a date-time (ISO 8601)")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def parse_period(text: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of `2026-Q1`, `2026-03` or `2026-W10` (ISO week), from 00:00 in `tz`."""
    first, after = _period_days(text)
    try:
        return start_of(first, tz), start_of(after, tz)
    except OverflowError:
        raise ValueError(f"{text!r} is out of the supported range of periods") from None


def _period_days(text: str) -> tuple[date, date]:
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        first = date(year, 3 * quarter - 2, 1)
        return first, _add_months(first, 3)
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: month must be 01 to 12")
        first = date(year, month, 1)
        return first, _add_months(first, 1)
    if match := _WEEK.match(text):
        try:
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise ValueError(f"{text!r}: no such ISO week in that year") from None
        return monday, monday + timedelta(days=7)
    raise ValueError(f"{text!r} is not a period: expected YYYY-Qn, YYYY-MM or YYYY-Wnn")


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid calendar date") from None

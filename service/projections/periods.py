"""Time in the company time zone: instants, dates and period shortcuts (contract §5)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from service.events.instants import RANGE_TEXT, RFC3339_DATE, check_range, parse_date_time
from service.projections.rules import just_before

# Matched whole (`fullmatch`) and with ASCII digits only: a trailing newline or another
# script's digits are not part of a period.
_QUARTER = re.compile(r"([0-9]{4})-[Qq]([1-4])")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-[Ww]([0-9]{2})")


def start_of(day: date, tz: tzinfo) -> datetime:
    """00:00 of `day` in `tz`, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def parse_instant(text: str, tz: tzinfo, *, end_of_date: bool) -> datetime:
    """A UTC instant from a date or an RFC 3339 date-time; naive date-times are read in `tz`.

    A date is its 00:00 in `tz`, or with `end_of_date` its last microsecond (for `as_of`).
    ValueError unless the instant lies in the accepted range (`service.events.instants`).
    """
    if RFC3339_DATE.fullmatch(text):
        day = _date(text)
        try:
            if end_of_date:
                # `occurred_at <= as_of` must mean "before the next midnight".
                return check_range(just_before(start_of(day + timedelta(days=1), tz)), text)
            return check_range(start_of(day, tz), text)
        except OverflowError:
            raise _out_of_range(text) from None
    try:
        parsed = parse_date_time(text, offset_required=False)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return check_range(parsed, text)


def parse_period(text: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of `2026-Q1`, `2026-03` or `2026-W10` (ISO week), from 00:00 in `tz`.

    ValueError unless both ends lie in the accepted range (`service.events.instants`).
    """
    first, after = _period_days(text)
    try:
        return check_range(start_of(first, tz), text), check_range(start_of(after, tz), text)
    except OverflowError:
        raise _out_of_range(text) from None


def parse_date(text: str, tz: tzinfo) -> date:
    """A date `YYYY-MM-DD` whose 00:00 in `tz` lies in the accepted range; ValueError otherwise."""
    if not RFC3339_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
    parse_instant(text, tz, end_of_date=False)  # its 00:00 must lie in the range
    return _date(text)


def _out_of_range(text: str) -> ValueError:
    return ValueError(f"{text!r} is out of range: instants must lie {RANGE_TEXT}")


def _period_days(text: str) -> tuple[date, date]:
    if match := _QUARTER.fullmatch(text):
        year, quarter = int(match[1]), int(match[2])
        first = date(year, 3 * quarter - 2, 1)
        return first, _add_months(first, 3)
    if match := _MONTH.fullmatch(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: month must be 01 to 12")
        first = date(year, month, 1)
        return first, _add_months(first, 1)
    if match := _WEEK.fullmatch(text):
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

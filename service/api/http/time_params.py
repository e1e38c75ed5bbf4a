"""Query parameters of time: instants and periods in the company time zone (contract §5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from service.api.http.problems import Problem
from service.projections.periods import parse_instant, parse_period
from service.settings import Settings

_PLUS_AS_SPACE = re.compile(r" ([0-9]{2}:[0-9]{2})\Z")


def _invalid(name: str, detail: str) -> Problem:
    return Problem(
        422,
        "invalid-request",
        detail,
        title="Invalid request",
        errors=[{"pointer": f"/query/{name}", "detail": detail}],
    )


def instant(
    settings: Settings, name: str, value: str | None, *, end_of_date: bool = False
) -> datetime | None:
    """A query parameter as a UTC instant (None when absent); 422 when unreadable."""
    if value is None or value == "":
        return None
    # An unencoded '+' in a query string arrives as a space: "…T10:00:00 08:00".
    value = _PLUS_AS_SPACE.sub(r"+\1", value)
    try:
        return parse_instant(value, settings.zone, end_of_date=end_of_date)
    except ValueError as exc:
        raise _invalid(name, str(exc)) from exc


def period(
    settings: Settings, start: str | None, end: str | None, shortcut: str | None
) -> tuple[datetime, datetime]:
    """[from, to) from `from` and `to`, or from a `period` shortcut such as 2026-Q1."""
    if shortcut:
        if start or end:
            raise _invalid("period", "give either 'period' or 'from' and 'to', not both")
        try:
            return parse_period(shortcut, settings.zone)
        except ValueError as exc:
            raise _invalid("period", str(exc)) from exc
    first = instant(settings, "from", start)
    after = instant(settings, "to", end)
    if first is None or after is None:
        raise _invalid("from", "give 'from' and 'to' (dates or date-times), or 'period'")
    if after <= first:
        raise _invalid("to", "'to' must be later than 'from'")
    return first, after


def known_at_or_now(settings: Settings, value: str | None) -> datetime:
    """`known_at` as an instant; now when absent."""
    return instant(settings, "known_at", value) or datetime.now(UTC)


def as_of_or_now(settings: Settings, value: str | None) -> datetime:
    """`as_of` as an instant (a date means its end); now when absent."""
    return instant(settings, "as_of", value, end_of_date=True) or datetime.now(UTC)

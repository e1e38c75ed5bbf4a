"""The longest period one read may cover: scoreboards, analytics and exports (docs/security.md).

The work of such a read grows with the facts inside its period, so a period of centuries is
refused before any database work, with a 422 naming `to`. Period shortcuts (a quarter at most)
are always within it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.api.http.problems import Problem
from service.api.http.time_params import period
from service.settings import Settings


def check_span(max_days: int, start: datetime, end: datetime, name: str = "to") -> None:
    """Refuse [start, end) with 422 (naming `name`) when it is longer than `max_days` days."""
    if end - start > timedelta(days=max_days):
        detail = f"the period from 'from' to 'to' may span at most {max_days} days"
        raise Problem(
            422,
            "span-too-long",
            detail,
            title="Invalid request",
            errors=[{"pointer": f"/query/{name}", "detail": detail}],
            max_span_days=max_days,
        )


def bounded_period(
    settings: Settings, start: str | None, end: str | None, shortcut: str | None
) -> tuple[datetime, datetime]:
    """`params.period`, refused with 422 beyond `FUNNEL_MAX_SPAN_DAYS`."""
    first, after = period(settings, start, end, shortcut)
    check_span(settings.max_span_days, first, after)
    return first, after

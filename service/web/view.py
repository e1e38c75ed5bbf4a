"""What the dashboard shows: a period, the as-of day within it, and how it maps to the API.

The view shows the period-to-date `[first day, as_of + 1 day)`: its numbers are exactly
`GET /v1/scoreboard?from=<first>&to=<as_of + 1 day>` and its funnel `GET /v1/funnel?as_of=<as_of>`.
"As known then" sets `known_at` to the as-of instant (the end of the as-of day).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal
from urllib.parse import quote, urlencode

from service.projections.periods import parse_date, parse_period, start_of
from service.projections.rules import just_before

Rows = Literal["rep", "team"]
_DAY = timedelta(days=1)
# Matched whole (`fullmatch`: `$` would also match before a final newline), ASCII digits only.
_KINDS = {"quarter": re.compile(r"[0-9]{4}-Q[1-4]"), "month": re.compile(r"[0-9]{4}-[0-9]{2}")}
_KINDS["week"] = re.compile(r"[0-9]{4}-W[0-9]{2}")


def shortcut_of(kind: str, day: date) -> str:
    """The quarter, month or ISO week that contains `day`, as a period shortcut."""
    if kind == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def kind_of(shortcut: str) -> str | None:
    """Whether a shortcut names a quarter, a month or a week."""
    return next((kind for kind, rule in _KINDS.items() if rule.fullmatch(shortcut)), None)


def days_of(shortcut: str, zone: tzinfo) -> tuple[date, date]:
    """The first day and the first day after a period shortcut; ValueError if it is none."""
    start, end = parse_period(shortcut, zone)
    return start.astimezone(zone).date(), end.astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class View:
    """One state of the dashboard: every control on the page maps to a field here."""

    first: date
    after: date
    as_of: date
    known_then: bool = False
    rows: Rows = "rep"
    shortcut: str | None = None

    @property
    def last_day(self) -> date:
        """The period's last day."""
        return self.after - _DAY

    def start(self, zone: tzinfo) -> datetime:
        """The period's first instant: the scoreboard's `from`."""
        return start_of(self.first, zone)

    def end(self, zone: tzinfo) -> datetime:
        """00:00 after the as-of day: the scoreboard's `to`."""
        return start_of(self.as_of + _DAY, zone)

    def as_of_instant(self, zone: tzinfo) -> datetime:
        """The end of the as-of day: the funnel's `as_of`, and `known_at` when known then."""
        return just_before(self.end(zone))

    def query(self) -> dict[str, str]:
        """The view as URL parameters."""
        params = (
            {"period": self.shortcut}
            if self.shortcut
            else {"from": self.first.isoformat(), "to": self.after.isoformat()}
        )
        params["as_of"] = self.as_of.isoformat()
        if self.known_then:
            params["known"] = "then"
        if self.rows != "rep":
            params["rows"] = self.rows
        return params

    def csv_url(self) -> str:
        """The URL of this view's table as a CSV download."""
        return "/scoreboard.csv?" + urlencode(self.query())

    def rep_url(self, rep_id: str) -> str:
        """The URL of a rep's one-on-one page for this view's period and as-of day."""
        return f"/reps/{quote(rep_id, safe='')}?" + urlencode(self.query())

    def url(self, **changes: object) -> str:
        """The dashboard URL of this view with some fields changed."""
        return "/?" + urlencode(replace(self, **changes).query())  # type: ignore[arg-type]


def period_url(view: View, shortcut: str, today: date, zone: tzinfo) -> str:
    """The URL of another period (same rows and switch), its as-of day at its end."""
    first, after = days_of(shortcut, zone)
    return _with_period(view, first, after, shortcut, today).url()


def _with_period(view: View, first: date, after: date, shortcut: str | None, today: date) -> View:
    return replace(
        view, first=first, after=after, shortcut=shortcut, as_of=_clamp(None, first, after, today)
    )


def _clamp(wanted: date | None, first: date, after: date, today: date) -> date:
    """The as-of day: `wanted` within the period and not after today; default the latest."""
    latest = max(first, min(after - _DAY, today))
    return latest if wanted is None else min(max(wanted, first), latest)


def slider(view: View, today: date) -> tuple[int, int]:
    """The as-of slider's (last position, position): one position per day from the first."""
    latest = _clamp(None, view.first, view.after, today)
    return (latest - view.first).days, (view.as_of - view.first).days


def neighbour(view: View, step: int, zone: tzinfo) -> str | None:
    """The shortcut of the period before (-1) or after (+1) a shortcut period."""
    kind = kind_of(view.shortcut or "")
    if kind is None:
        return None
    day = view.first - _DAY if step < 0 else view.after
    return shortcut_of(kind, day)


def _date(params: Mapping[str, str], zone: tzinfo, name: str, errors: list[str]) -> date | None:
    """A date parameter whose 00:00 in `zone` lies in the accepted range, else None (and its
    name in `errors`)."""
    value = params.get(name)
    if not value:
        return None
    try:
        return parse_date(value, zone)
    except ValueError:
        errors.append(name)
        return None


def _period(
    params: Mapping[str, str], zone: tzinfo, anchors: tuple[date, date], errors: list[str]
) -> tuple[date, date, str | None]:
    shortcut = params.get("period")
    if shortcut:
        try:
            return (*days_of(shortcut.upper(), zone), shortcut.upper())
        except ValueError:
            errors.append("period")
    first, after = _date(params, zone, "from", errors), _date(params, zone, "to", errors)
    if first and after and first < after:
        return first, after, None
    if first or after:
        errors.append("to")
    for anchor in anchors:
        default = shortcut_of("quarter", anchor)
        try:
            return (*days_of(default, zone), default)
        except ValueError:  # its quarter reaches out of range (say, 1899-Q4 in the zone)
            continue
    raise ValueError("no default period: neither the anchor's quarter nor today's is in range")


def parse_view(
    params: Mapping[str, str], zone: tzinfo, anchor: date, today: date
) -> tuple[View, list[str]]:
    """The view the URL asks for, and the names of parameters that were invalid (ignored).

    With no period, the quarter containing `anchor` is shown (today, or the day of the latest
    fact that counts when today's quarter has none).
    """
    errors: list[str] = []
    first, after, shortcut = _period(params, zone, (anchor, today), errors)
    rows: Rows = "team" if params.get("rows") == "team" else "rep"
    view = View(
        first=first,
        after=after,
        as_of=_clamp(_date(params, zone, "as_of", errors), first, after, today),
        known_then=params.get("known") == "then",
        rows=rows,
        shortcut=shortcut,
    )
    return view, errors

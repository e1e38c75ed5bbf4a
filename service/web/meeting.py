"""The meeting pages' models: the weekly meeting on `/` and a rep's one-on-one on `/reps/…`.

What each shows in API terms is in docs/dashboard.md: the trend is `/v1/scoreboard/series`
with `interval=week`, the usual time in a stage the median of `/v1/analytics/stage-times`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final

from service.application.one_on_one import MeetingWindow, OneOnOne
from service.application.weekly_meeting import WeeklyMeeting
from service.projections.intervals import sub_periods
from service.projections.periods import start_of
from service.web.charts import Share, TrendBar, trend_bars
from service.web.page import METRICS, Card, cards
from service.web.view import View, days_of, shortcut_of

TREND_WEEKS: Final = 8
"""How many weeks the weekly meeting's trend shows, the as-of day's week the last."""
USUAL_DAYS: Final = 90
"""The usual time in a stage is the median of the stays that ended in these days to the as-of
day (every rep's deals: the team's usual pace)."""
_DAY: Final = timedelta(days=1)
_SHOWN_NUMBERS: Final = frozenset({*METRICS, "fsi_visits", "fua_visits"})
"""The numbers the page shows by name; `other_numbers` lists any further ones a row carries."""


def _window(view: View, zone: tzinfo, known_at: datetime, trend_from: datetime) -> MeetingWindow:
    usual_start = start_of(view.as_of - (USUAL_DAYS - 1) * _DAY, zone)
    end = view.end(zone)
    return MeetingWindow(
        start=view.start(zone),
        end=end,
        as_of=view.as_of_instant(zone),
        known_at=known_at,
        weeks=tuple(sub_periods(trend_from, end, "week", zone)),
        usual_start=usual_start,
    )


def weekly_window(view: View, zone: tzinfo, known_at: datetime) -> MeetingWindow:
    """The weekly meeting's reads: `TREND_WEEKS` weeks from Monday, the last one to date."""
    monday = view.as_of - view.as_of.weekday() * _DAY
    return _window(view, zone, known_at, start_of(monday - (TREND_WEEKS - 1) * 7 * _DAY, zone))


def quarter_start(view: View, zone: tzinfo) -> datetime:
    """00:00 on the first day of the as-of day's quarter."""
    first, _ = days_of(shortcut_of("quarter", view.as_of), zone)
    return start_of(first, zone)


def one_on_one_window(view: View, zone: tzinfo, known_at: datetime) -> MeetingWindow:
    """The one-on-one's reads: the weeks of the as-of day's quarter, to date."""
    return _window(view, zone, known_at, quarter_start(view, zone))


@dataclass(frozen=True, slots=True)
class TrendLine:
    """One number's weekly values as bars, this week's and last week's value and the change."""

    metric: str
    bars: list[TrendBar]
    this_week: int
    last_week: int | None

    @property
    def change(self) -> int | None:
        """This week (to date) less last week (whole); None with no last week."""
        return None if self.last_week is None else self.this_week - self.last_week


def trend_lines(weeks: list[dict[str, Any]], metrics: tuple[str, ...] = METRICS) -> list[TrendLine]:
    """Per number, its trend over the given weeks' rows or totals (the last is this week)."""
    lines = []
    for metric in metrics:
        values = [int(week[metric]) for week in weeks]
        last = values[-2] if len(values) > 1 else None
        lines.append(TrendLine(metric, trend_bars(values), values[-1] if values else 0, last))
    return lines


@dataclass(frozen=True, slots=True)
class WeekRow:
    """A line of the weekly meeting's table: a number's trend, its week and quarter to date."""

    trend: TrendLine
    week: Card
    quarter: Card


@dataclass(frozen=True, slots=True)
class WeeklyPage:
    """What the weekly meeting section shows."""

    meeting: WeeklyMeeting
    week_from: datetime
    rows: list[WeekRow]


def weekly_page(meeting: WeeklyMeeting) -> WeeklyPage:
    """The weekly meeting section's model."""
    totals = [week for _, week in meeting.weeks]
    lines = trend_lines(totals)
    week_cards, quarter_cards = cards(totals[-1]), cards(meeting.quarter)
    rows = [WeekRow(*parts) for parts in zip(lines, week_cards, quarter_cards, strict=True)]
    return WeeklyPage(meeting, meeting.weeks[-1][0][0], rows)


def other_numbers(row: dict[str, Any]) -> list[tuple[str, int]]:
    """A row's whole numbers beyond the five and their parts (calls, when rows carry them)."""
    return [
        (name, value)
        for name, value in row.items()
        if name not in _SHOWN_NUMBERS and isinstance(value, int) and not isinstance(value, bool)
    ]


@dataclass(frozen=True, slots=True)
class RepPage:
    """What a rep's one-on-one shows."""

    meeting: OneOnOne
    cards: list[Card]
    trend: list[TrendLine]
    share: Share
    others: list[tuple[str, int]]
    usual_days: dict[str, float | None]


def days(seconds: float | None) -> float | None:
    """Seconds as days, to one decimal."""
    return None if seconds is None else round(seconds / 86400, 1)


def rep_page(meeting: OneOnOne) -> RepPage:
    """The one-on-one's model."""
    row = meeting.row
    return RepPage(
        meeting=meeting,
        cards=cards(row),
        trend=trend_lines([week for _, week in meeting.weeks]),
        share=Share(row["fsi_visits"], row["fua_visits"]),
        others=other_numbers(row),
        usual_days={stage: days(u["median_seconds"]) for stage, u in meeting.usual.items()},
    )


def amount(value: str | None, currency: str | None) -> str:
    """An amount for display, such as `TWD 1,250,000`, or a dash."""
    if value is None or currency is None:
        return "\u2013"
    return f"{currency} {Decimal(value):,.0f}"

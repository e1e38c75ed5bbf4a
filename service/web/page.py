"""The dashboard's page model: cards, table rows and charts from a `Board`, ready to render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any

from service.web.board import Board
from service.web.charts import Bar, Share, funnel_bars
from service.web.view import View, neighbour, period_url, shortcut_of, slider

METRICS = ("closed_deals", "committed_deals", "opportunities", "leads", "client_visits")
CALLS = "calls"
"""Shown after the five numbers when the priorities of a team on screen name it."""
_OPEN = {
    "committed_deals": "open_committed_deals",
    "opportunities": "open_opportunities",
    "leads": "open_leads",
}


@dataclass(frozen=True, slots=True)
class Card:
    """One of the five numbers, with its target and attainment when a plan sets them."""

    metric: str
    value: int
    open_label: str | None
    open_value: int | None
    target: str | None
    attainment: int | None
    priority: bool


def money(closed_value: dict[str, str]) -> list[str]:
    """Amounts per currency for display, such as `TWD 1,250,000`."""
    return [f"{c} {Decimal(v):,.0f}" for c, v in sorted(closed_value.items())]


def _percent(value: object) -> int | None:
    return None if value is None else round(float(str(value)) * 100)


def _target(value: object) -> str | None:
    if value is None:
        return None
    number = Decimal(str(value))
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.1f}"


def cards(numbers: dict[str, Any], *, calls: bool = False) -> list[Card]:
    """The five numbers of a scoreboard row or of the totals; with `calls`, calls after them."""
    targets = numbers.get("targets") or {}
    attainment = numbers.get("attainment") or {}
    priorities = numbers.get("priorities") or []
    open_numbers = numbers.get("open", {})
    return [
        Card(
            metric=metric,
            value=int(numbers[metric]),
            open_label=_OPEN.get(metric),
            open_value=open_numbers.get(metric) if metric in _OPEN else None,
            target=_target(targets.get(metric)),
            attainment=_percent(attainment.get(metric)),
            priority=metric in priorities,
        )
        for metric in ((*METRICS, CALLS) if calls else METRICS)
    ]


def shows_calls(board: Board) -> bool:
    """Whether the dashboard shows calls: a row on screen is of a team (or a rep of a team)
    whose priorities name `calls` (a phone-sales team); the totals have no priorities."""
    rows = [board.scoreboard["totals"], *board.scoreboard["rows"]]
    return any(CALLS in (row.get("priorities") or ()) for row in rows)


def talk_time(seconds: int) -> str:
    """A duration in seconds as hours, minutes and seconds: `3:05:09`."""
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}"


def has_goals(board: Board) -> bool:
    """Whether any row or the totals carry a target."""
    rows = [board.scoreboard["totals"], *board.scoreboard["rows"]]
    return any(row.get("targets") for row in rows)


@dataclass(frozen=True, slots=True)
class Picker:
    """The period picker's links and the as-of slider's range."""

    quarter: str
    month: str
    week: str
    previous: str | None
    next: str | None
    slider_max: int
    slider_value: int


def picker(view: View, today: date, zone: tzinfo) -> Picker:
    """Links to the quarter, month and week of the as-of day, and to the adjacent periods."""

    def link(shortcut: str | None) -> str | None:
        return None if shortcut is None else period_url(view, shortcut, today, zone)

    last, value = slider(view, today)
    return Picker(
        quarter=period_url(view, shortcut_of("quarter", view.as_of), today, zone),
        month=period_url(view, shortcut_of("month", view.as_of), today, zone),
        week=period_url(view, shortcut_of("week", view.as_of), today, zone),
        previous=link(neighbour(view, -1, zone)),
        next=link(neighbour(view, 1, zone)),
        slider_max=last,
        slider_value=value,
    )


@dataclass(frozen=True, slots=True)
class Charts:
    """The funnel's bars and the FSI/FUA split."""

    funnel: list[Bar]
    closed: list[Bar]
    height: int
    share: Share


def charts(board: Board) -> Charts:
    """The charts of a board."""
    funnel, closed, height = funnel_bars(board.stages)
    totals = board.scoreboard["totals"]
    return Charts(funnel, closed, height, Share(totals["fsi_visits"], totals["fua_visits"]))

"""Reading the dashboard's numbers back out of its HTML, for the tests."""

from __future__ import annotations

import re
from typing import Any

_SPAN = re.compile(r'<span data-metric="([a-z_]+)">([\d,]+)</span>')
_ROW = re.compile(r'<tr data-key="([^"]*)">(.*?)</tr>', re.DOTALL)
_SECONDS = re.compile(r'<span data-metric="(talk_time_s)" data-seconds="(\d+)">')
_STAGE = re.compile(r'data-stage="([a-z_]+)" data-count="(\d+)"')
FIVE = ("closed_deals", "committed_deals", "opportunities", "leads", "client_visits")


def _numbers(html: str) -> dict[str, int]:
    found = [*_SPAN.findall(html), *_SECONDS.findall(html)]
    return {name: int(value.replace(",", "")) for name, value in found}


def shows_calls(board: dict[str, Any]) -> bool:
    """Whether the dashboard of this scoreboard shows calls: a row's priorities name them."""
    rows = [board["totals"], *board["rows"]]
    return any("calls" in (row.get("priorities") or ()) for row in rows)


def shown_totals(html: str) -> dict[str, int]:
    """The numbers on the five cards (and their open and visit sub-numbers)."""
    return _numbers(html.split('<section class="cards"', 1)[1].split("</section>", 1)[0])


def shown_rows(html: str) -> dict[str, dict[str, int]]:
    """The per-rep (or per-team) table, by key."""
    return {key: _numbers(body) for key, body in _ROW.findall(html)}


_ACCOUNT = re.compile(r'<tr data-account="([^"]*)">(.*?)</tr>', re.DOTALL)


def shown_key_accounts(html: str) -> dict[str, dict[str, int]]:
    """The key accounts' table, by account key (HTML-escaped as shown)."""
    return {key: _numbers(body) for key, body in _ACCOUNT.findall(html)}


def shown_stages(html: str) -> dict[str, int]:
    """The funnel chart's counts by stage."""
    return {stage: int(count) for stage, count in _STAGE.findall(html)}


def api_totals(numbers: dict[str, Any], *, calls: bool = False) -> dict[str, int]:
    """The same numbers from a `/v1/scoreboard` row or totals (with `calls`, the calls too)."""
    shown = ("calls", "connected_calls", "talk_time_s") if calls else ()
    return {
        **{name: numbers[name] for name in shown},
        **{name: numbers[name] for name in FIVE},
        "fsi_visits": numbers["fsi_visits"],
        "fua_visits": numbers["fua_visits"],
        "open_leads": numbers["open"]["leads"],
        "open_opportunities": numbers["open"]["opportunities"],
        "open_committed_deals": numbers["open"]["committed_deals"],
    }


def api_row(numbers: dict[str, Any], *, calls: bool = False) -> dict[str, int]:
    """A table row's numbers from a `/v1/scoreboard` row (with `calls`, its calls too)."""
    row = api_totals(numbers, calls=calls)
    del row["fsi_visits"], row["fua_visits"]
    row.pop("connected_calls", None)
    row.pop("talk_time_s", None)
    return row

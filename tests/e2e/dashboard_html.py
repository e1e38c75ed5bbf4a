"""Reading the dashboard's numbers back out of its HTML, for the tests."""

from __future__ import annotations

import re
from typing import Any

_SPAN = re.compile(r'<span data-metric="([a-z_]+)">([\d,]+)</span>')
_ROW = re.compile(r'<tr data-key="([^"]*)">(.*?)</tr>', re.DOTALL)
_STAGE = re.compile(r'data-stage="([a-z_]+)" data-count="(\d+)"')
FIVE = ("closed_deals", "committed_deals", "opportunities", "leads", "client_visits")


def _numbers(html: str) -> dict[str, int]:
    return {name: int(value.replace(",", "")) for name, value in _SPAN.findall(html)}


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


def api_totals(numbers: dict[str, Any]) -> dict[str, int]:
    """The same numbers from a `/v1/scoreboard` row or totals."""
    return {
        **{name: numbers[name] for name in FIVE},
        "fsi_visits": numbers["fsi_visits"],
        "fua_visits": numbers["fua_visits"],
        "open_leads": numbers["open"]["leads"],
        "open_opportunities": numbers["open"]["opportunities"],
        "open_committed_deals": numbers["open"]["committed_deals"],
    }


def api_row(numbers: dict[str, Any]) -> dict[str, int]:
    """A table row's numbers from a `/v1/scoreboard` row."""
    row = api_totals(numbers)
    del row["fsi_visits"], row["fua_visits"]
    return row

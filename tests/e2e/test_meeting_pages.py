"""The meeting pages over HTTP: a rep's one-on-one (`/reps/{rep_id}`) and the weekly meeting on
the team page, with numbers equal to the API's for the same rep, period and instant."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

from service.application.demo_load import load
from service.demo import generate
from tests.conftest import bearer
from tests.e2e.dashboard_html import FIVE, api_totals, shown_totals
from tests.e2e.test_dashboard import sign_in

pytestmark = pytest.mark.e2e

REP = "R-01"
OPEN = ("lead", "opportunity", "eb_committed", "committed")
_TREND = re.compile(r'<tr data-week-metric="([a-z_]+)">(.*?)</tr>', re.DOTALL)
_BAR = re.compile(r'data-value="(\d+)"')
_DEAL = re.compile(
    r'<tr data-deal="([^"]+)" data-stage="([a-z_]+)" class="([a-z-]*)">(.*?)</tr>', re.DOTALL
)
_MOVE = re.compile(
    r'<tr data-move="([a-z]+)" data-deal="([^"]+)" data-owner="([^"]*)" data-amount="([^"]*)">'
    r"(.*?)</tr>",
    re.DOTALL,
)


@pytest.fixture
async def demo(app):
    await load(app.state.services.appender, generate(seed=4, quarter="2026-Q1", deals=120))


@pytest.fixture
async def signed_in(client, tokens):
    response = await sign_in(client, tokens["read"])
    assert response.status_code == 303
    return client


async def _api(client, tokens, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=bearer(tokens["read"]))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _trends(html: str) -> dict[str, list[int]]:
    """Each number's weekly values, as drawn in its trend chart."""
    return {metric: [int(v) for v in _BAR.findall(body)] for metric, body in _TREND.findall(html)}


def _attribute(html: str, name: str) -> dict[str, str]:
    return dict(re.findall(rf'data-{name}="([a-z_]+)">([^<]*)<', html))


def _rep_row(board: dict[str, Any], rep_id: str) -> dict[str, Any] | None:
    return next((row for row in board["rows"] if row["key"] == rep_id), None)


async def test_the_one_on_one_needs_a_session(client):
    response = await client.get(f"/reps/{REP}?period=2026-Q1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote(
        f"/reps/{REP}?period=2026-Q1", safe=""
    )


async def test_an_unknown_or_hostile_rep_gets_a_404_page_that_shows_nothing_back(signed_in, demo):
    for rep_id in ("R-99", "<script>alert(1)</script>", "x" * 129, "R-01\u202e", "R 01"):
        page = await signed_in.get(f"/reps/{quote(rep_id, safe='')}?period=2026-Q1")
        assert page.status_code == 404, rep_id
        assert page.headers["content-type"].startswith("text/html")
        assert "No such rep." in page.text
        assert "<script>alert" not in page.text
        assert rep_id not in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")


async def test_the_one_on_one_shows_the_reps_numbers_and_trend_as_the_api(signed_in, tokens, demo):
    page = await signed_in.get(f"/reps/{REP}?period=2026-Q1&as_of=2026-02-15")
    assert page.status_code == 200
    period = {"from": "2026-01-01", "to": "2026-02-16", "group_by": "rep"}
    board = await _api(signed_in, tokens, "/v1/scoreboard", **period)
    row = _rep_row(board, REP)
    assert row is not None
    assert row["closed_deals"] + row["leads"] > 0
    assert shown_totals(page.text) == api_totals(row)
    assert f'<h1 id="rep-name" data-rep="{REP}">{row["rep_name"]} ' in page.text

    # The trend: the weeks of the quarter to the as-of day, as the series has them.
    series = await _api(signed_in, tokens, "/v1/scoreboard/series", interval="week", **period)
    weeks = [_rep_row(sub, REP) for sub in series["periods"]]
    expected = {metric: [w[metric] if w else 0 for w in weeks] for metric in FIVE}
    assert _trends(page.text) == expected
    changes = _attribute(page.text, "change")
    for metric, values in expected.items():
        change = values[-1] - values[-2]
        shown = changes[metric].replace("\u2212", "-").replace("±", "").replace("+", "")
        assert int(shown) == change


async def test_the_open_deals_and_the_usual_times_are_the_apis(signed_in, tokens, demo):
    page = await signed_in.get(f"/reps/{REP}?period=2026-Q1&as_of=2026-02-15")
    listed = await _api(signed_in, tokens, "/v1/deals", owner=REP, as_of="2026-02-15", limit="500")
    expected = {deal["deal_id"]: deal for deal in listed["deals"] if deal["stage"] in OPEN}
    shown = _DEAL.findall(page.text)
    assert {deal: stage for deal, stage, _, _ in shown} == {
        deal: state["stage"] for deal, state in expected.items()
    }
    assert expected

    # The usual time is the median of the stays that ended in the 90 days to the as-of day.
    times = await _api(
        signed_in,
        tokens,
        "/v1/analytics/stage-times",
        **{"from": "2025-11-18", "to": "2026-02-16", "as_of": "2026-02-15"},
    )
    for deal_id, stage, flag, cells in shown:
        median = times["stages"][stage]["median_seconds"]
        usual = re.search(r'data-usual="([^"]*)"', cells)
        days = re.search(r'data-days="([^"]+)"', cells)
        assert usual is not None and days is not None
        assert usual.group(1) == ("" if median is None else str(round(median / 86400, 1)))
        # Flagged when longer in its stage than usual (days are shown to a tenth).
        seconds = float(days.group(1)) * 86400
        if median is None or abs(seconds - median) > 4320:
            assert (flag != "") == (median is not None and seconds > median), deal_id
        assert (flag == "at-risk") == (flag != "" and stage == "eb_committed")
        amount = expected[deal_id]["amount"]
        assert amount is None or f"{Decimal(amount):,.0f}" in cells
    flags = [flag for _, _, flag, _ in shown]
    assert "overdue" in flags
    assert flags == sorted(flags, key=lambda flag: flag != "at-risk")
    # Across the team, EB-committed deals past the usual time are at risk, and listed first
    board = await _api(signed_in, tokens, "/v1/scoreboard", period="2026-Q1", group_by="rep")
    everyone: list[str] = []
    for row in board["rows"]:
        other = await signed_in.get(f"/reps/{row['key']}?period=2026-Q1&as_of=2026-02-15")
        own = [flag for _, _, flag, _ in _DEAL.findall(other.text)]
        assert own == sorted(own, key=lambda flag: flag != "at-risk")
        everyone += own
    assert "at-risk" in everyone


@pytest.mark.parametrize("as_of", ["2026-02-15", "2026-03-31"])
async def test_the_weekly_meeting_equals_the_api(signed_in, tokens, demo, as_of):
    page = await signed_in.get(f"/?period=2026-Q1&as_of={as_of}")
    assert page.status_code == 200
    day = date.fromisoformat(as_of)
    monday = day - timedelta(days=day.weekday())
    to = (day + timedelta(days=1)).isoformat()
    weekly = page.text.split('<section class="weekly"', 1)[1].split("</section>", 1)[0]

    # Each number's trend over the last eight weeks, this week to date the last.
    series = await _api(
        signed_in,
        tokens,
        "/v1/scoreboard/series",
        interval="week",
        group_by="rep",
        **{"from": (monday - timedelta(weeks=7)).isoformat(), "to": to},
    )
    totals = [sub["totals"] for sub in series["periods"]]
    assert len(totals) == 8
    assert _trends(weekly) == {metric: [week[metric] for week in totals] for metric in FIVE}
    shown_week = {metric: int(value) for metric, value in _attribute(weekly, "week").items()}
    assert shown_week == {metric: totals[-1][metric] for metric in FIVE}

    # The quarter to date, with its attainment beside the week's.
    quarter = await _api(
        signed_in, tokens, "/v1/scoreboard", group_by="rep", **{"from": "2026-01-01", "to": to}
    )
    shown_quarter = {k: int(v.replace(",", "")) for k, v in _attribute(weekly, "quarter").items()}
    assert shown_quarter == {metric: quarter["totals"][metric] for metric in FIVE}
    for metric, ratio in quarter["totals"]["attainment"].items():
        if metric in FIVE:  # the weekly view shows the five numbers
            assert f'data-attainment="{metric}">{round(ratio * 100)}%' in weekly

    # The open pipeline: the funnel's counts, and the amounts of those deals summed.
    funnel = await _api(signed_in, tokens, "/v1/funnel", as_of=as_of)
    for stage in OPEN:
        deals = await _api(signed_in, tokens, "/v1/deals", stage=stage, as_of=as_of, limit="500")
        value: dict[str, Decimal] = {}
        for deal in deals["deals"]:
            if deal["amount"] is not None:
                value[deal["currency"]] = value.get(deal["currency"], Decimal(0)) + Decimal(
                    deal["amount"]
                )
        shown_value = ";".join(f"{c} {v}" for c, v in sorted(value.items()))
        assert f'data-pipeline-stage="{stage}" data-deals="{funnel["stages"][stage]}"' in weekly
        assert len(deals["deals"]) == funnel["stages"][stage]
        row = weekly.split(f'data-pipeline-stage="{stage}"', 1)[1].split("</tr>", 1)[0]
        assert f'data-value="{shown_value}"' in row

    # What moved this week: the deals the week's numbers count, and those lost in it.
    moves = _MOVE.findall(weekly)
    kinds = [kind for kind, *_ in moves]
    week = totals[-1]
    assert kinds.count("won") == week["closed_deals"]
    assert kinds.count("committed") == week["committed_deals"]
    assert kinds.count("qualified") == week["opportunities"]
    win_rate = await _api(
        signed_in,
        tokens,
        "/v1/analytics/win-rate",
        **{"from": monday.isoformat(), "to": to, "as_of": as_of},
    )
    assert kinds.count("lost") == win_rate["lost"]
    assert moves
    for _, deal_id, owner, amount, cells in moves:
        deal = await _api(signed_in, tokens, f"/v1/deals/{deal_id}", as_of=as_of)
        assert owner == (deal["owner_rep_id"] or "")
        assert amount == (deal["amount"] or "")
        assert deal["account"]["name"] in cells


async def test_the_team_table_leads_to_each_reps_one_on_one(signed_in, demo):
    page = await signed_in.get("/?period=2026-Q1&as_of=2026-02-15")
    link = f'href="/reps/{REP}?period=2026-Q1&amp;as_of=2026-02-15"'
    assert link in page.text
    by_team = await signed_in.get("/?period=2026-Q1&as_of=2026-02-15&rows=team")
    assert 'class="rep-link"' not in by_team.text
    one_on_one = await signed_in.get(f"/reps/{REP}?period=2026-Q1&as_of=2026-02-15")
    assert 'id="back-to-team" href' not in one_on_one.text
    assert 'href="/?period=2026-Q1&amp;as_of=2026-02-15" id="back-to-team"' in one_on_one.text


async def test_the_one_on_one_keeps_known_then_and_speaks_chinese(signed_in, demo):
    page = await signed_in.get(f"/reps/{REP}?period=2026-Q1&as_of=2026-02-15&known=then&lang=zh-TW")
    assert page.status_code == 200
    assert '<html lang="zh-TW">' in page.text
    assert "一對一面談" in page.text
    assert 'data-known-at="2026-02-15T23:59:59.999999' in page.text
    # The demo was recorded today: on 2026-02-15 the service knew nothing of it.
    assert set(shown_totals(page.text).values()) == {0}
    assert "沒有進行中案件" in page.text

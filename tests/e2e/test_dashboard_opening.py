"""The period the dashboard opens on: the current quarter of the company's calendar, or the
last quarter with a fact that counts when the current one has none, said on screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.web.view import shortcut_of
from tests.conftest import bearer
from tests.factories import retraction, sourced, visit

pytestmark = pytest.mark.e2e

SAME_SITE = {"Origin": "http://testserver"}


def _title(html: str) -> str:
    return html.split('id="period-title">')[1].split("<", maxsplit=1)[0]


async def _append(client, tokens, events) -> None:
    response = await client.post("/v1/events", json=events, headers=bearer(tokens["events:write"]))
    assert response.status_code == 201, response.text


async def _opening(client, tokens, lang: str = "en"):
    signed_in = await client.post(
        "/login", data={"key": tokens["read"], "next": "/"}, headers=SAME_SITE
    )
    assert signed_in.status_code == 303
    page = await client.get("/", params={"lang": lang})
    assert page.status_code == 200
    return page.text


async def test_an_empty_ledger_opens_on_the_current_quarter(client, tokens):
    html = await _opening(client, tokens)
    assert _title(html) == shortcut_of("quarter", datetime.now(UTC).date())
    assert 'id="period-fallback"' not in html


async def test_a_late_backfill_does_not_move_the_view_away_from_the_current_quarter(client, tokens):
    # Given a fact of today, then a backfill of an old quarter appended last
    now = datetime.now(UTC) - timedelta(seconds=5)
    await _append(client, tokens, [sourced("D-NOW", "R-1", now.isoformat())])
    await _append(client, tokens, [sourced("D-OLD", "R-1", "2024-08-01T10:00:00Z")])
    # When the dashboard opens without a period
    html = await _opening(client, tokens)
    # Then it shows the current quarter, not the backfill's
    assert _title(html) == shortcut_of("quarter", now.date())
    assert 'id="period-fallback"' not in html


async def test_an_empty_current_quarter_falls_back_to_the_last_quarter_with_data(client, tokens):
    # Given facts in 2025-Q1, then a later-appended one in 2024-Q3, and a retracted 2025-Q2 visit
    await _append(client, tokens, [sourced("D-1", "R-1", "2025-02-01T10:00:00Z")])
    await _append(client, tokens, [sourced("D-2", "R-1", "2024-08-01T10:00:00Z")])
    seen = visit("D-1", "R-1", "2025-05-01T10:00:00Z")
    await _append(client, tokens, [seen])
    await _append(client, tokens, [retraction("D-1", "R-1", "2025-05-02T10:00:00Z", seen)])
    # When the dashboard opens without a period
    html = await _opening(client, tokens)
    # Then it shows 2025-Q1 (by when facts happened, retracted ones not counting), and says so
    assert _title(html) == "2025-Q1"
    current = shortcut_of("quarter", datetime.now(UTC).date())
    notice = html.split('id="period-fallback"')[1].split("</p>")[0]
    assert current in notice
    assert "2025-Q1" in notice
    assert "last quarter with data" in notice
    zh = await _opening(client, tokens, lang="zh-TW")
    assert "有資料的最近一季" in zh.split('id="period-fallback"')[1].split("</p>")[0]


async def test_an_asked_period_is_shown_without_a_notice(client, tokens):
    await _append(client, tokens, [sourced("D-1", "R-1", "2025-02-01T10:00:00Z")])
    await _opening(client, tokens)
    page = await client.get("/", params={"period": "2024-Q1"})
    assert _title(page.text) == "2024-Q1"
    assert 'id="period-fallback"' not in page.text

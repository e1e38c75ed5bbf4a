"""The dashboard in real headless Chromium (Debian's), driven by Playwright, on a real server.

The server, the demo loader and the key creation are the real commands, each its own process.
Screenshots go to `test-artifacts/` (kept by CI, ignored by git).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright
from pypdf import PdfReader

from tests.e2e.dashboard_html import FIVE, api_row, api_totals, shows_calls
from tests.e2e.served import ROOT, serve

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed here (apt-get install chromium); CI runs this",
    ),
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
QUARTER = "2026-Q1"
AS_OF = "2026-02-15"
"""The as-of day the meeting pages are looked at (a Sunday: the week from Monday 2026-02-09)."""


@dataclass(frozen=True)
class Server:
    base: str
    read_key: str


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail("CI must provide Debian's chromium at /usr/bin/chromium (.ci/run installs it)")


async def _command(env: dict[str, str], *arguments: str) -> str:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service", *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[Server]:
    """`serve` on a fresh database, the demo quarter loaded by `demo`, a read key by `keys`."""
    _require_chromium()
    async with serve(database_url) as served:
        env = served.env
        await _command(env, "demo", "--quarter", QUARTER, "--seed", "7")
        created = await _command(env, "keys", "create", "--name", "ui", "--scopes", "read")
        yield Server(served.base, created.strip().splitlines()[-1])


async def _api(server: Server, path: str, **params: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base) as http:
        response = await http.get(
            path, params=params, headers={"Authorization": f"Bearer {server.read_key}"}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _int(text: str) -> int:
    """A number as shown: `1,234`, or a talk time `h:mm:ss` (in seconds)."""
    if ":" in text:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
        return hours * 3600 + minutes * 60 + seconds
    return int(text.replace(",", ""))


def _ints(pairs: list[list[str]]) -> dict[str, int]:
    return {name: _int(text) for name, text in pairs}


async def _shown(page: Page) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """The card numbers and the table rows on screen, as the user sees their text."""
    totals = _ints(
        await page.eval_on_selector_all(
            ".cards span[data-metric]", "els => els.map(e => [e.dataset.metric, e.innerText])"
        )
    )
    rows = await page.eval_on_selector_all(
        "#rows-table tbody tr",
        """rows => rows.map(r => [r.dataset.key,
            [...r.querySelectorAll('span[data-metric]')].map(e => [e.dataset.metric, e.innerText])])""",
    )
    return totals, {key: _ints(cells) for key, cells in rows}


async def _expect(page: Page, server: Server, **params: str) -> dict[str, int]:
    """Assert the screen shows exactly `GET /v1/scoreboard` for `params`; the totals shown."""
    board = await _api(server, "/v1/scoreboard", group_by="rep", **params)
    totals, rows = await _shown(page)
    calls = shows_calls(board)
    assert totals == api_totals(board["totals"], calls=calls)
    assert rows == {row["key"]: api_row(row, calls=calls) for row in board["rows"]}
    return totals


async def _expect_weekly(page: Page, server: Server) -> None:
    """Assert the weekly meeting shows `/v1/scoreboard/series`' last eight weeks and the quarter
    to date of `GET /v1/scoreboard`, and the funnel's open deals per stage."""
    series = await _api(
        server,
        "/v1/scoreboard/series",
        interval="week",
        group_by="rep",
        **{"from": "2025-12-22", "to": "2026-02-16"},
    )
    week = series["periods"][-1]["totals"]
    quarter = await _api(
        server, "/v1/scoreboard", group_by="rep", **{"from": "2026-01-01", "to": "2026-02-16"}
    )
    funnel = await _api(server, "/v1/funnel", as_of=AS_OF)
    shown_week = _ints(
        await page.eval_on_selector_all(
            "#weekly-table span[data-week]", "els => els.map(e => [e.dataset.week, e.innerText])"
        )
    )
    shown_quarter = _ints(
        await page.eval_on_selector_all(
            "#weekly-table span[data-quarter]",
            "els => els.map(e => [e.dataset.quarter, e.innerText])",
        )
    )
    pipeline = await page.eval_on_selector_all(
        "#pipeline-table tr[data-pipeline-stage]",
        "rows => rows.map(r => [r.dataset.pipelineStage, r.dataset.deals])",
    )
    assert shown_week == {name: week[name] for name in FIVE}
    assert shown_quarter == {name: quarter["totals"][name] for name in FIVE}
    assert {stage: int(count) for stage, count in pipeline} == {
        stage: funnel["stages"][stage] for stage, _ in pipeline
    }
    assert len(pipeline) == 4


async def _expect_one_on_one(page: Page, server: Server) -> str:
    """Assert the one-on-one shows the rep's row of `GET /v1/scoreboard`; the rep's id."""
    rep_id = await page.get_attribute("#rep-name", "data-rep")
    assert rep_id is not None
    board = await _api(
        server, "/v1/scoreboard", group_by="rep", **{"from": "2026-01-01", "to": "2026-02-16"}
    )
    row = next(row for row in board["rows"] if row["key"] == rep_id)
    totals, _ = await _shown(page)
    assert totals == api_totals(row)
    assert await page.locator("#deals-table tbody tr").count() > 0
    return rep_id


async def _printed_pages(page: Page, name: str) -> int:
    """Print the page to A4 as Chromium does, keep the PDF (and a picture of the print layout),
    and count the PDF's pages with pypdf."""
    path = ARTIFACTS / f"{name}.pdf"
    await page.pdf(path=str(path), format="A4", print_background=True)
    await page.emulate_media(media="print")
    await page.screenshot(path=ARTIFACTS / f"{name}-print.png", full_page=True)
    await page.emulate_media(media="null")  # no emulation: screen, and print for page.pdf
    return len(PdfReader(path).pages)


async def _meeting_pages(page: Page, server: Server) -> None:
    """The weekly meeting and a one-on-one, in Traditional Chinese then in English, each on
    screen equal to the API, screenshotted, and the weekly meeting printed on one A4 page."""
    await _expect_weekly(page, server)
    assert "本週異動" in await page.inner_text("#weekly")
    await page.locator("#weekly").screenshot(path=ARTIFACTS / "weekly-zh-TW.png")
    assert await _printed_pages(page, "weekly-zh-TW") == 1

    # From the team table, a rep's name leads to the one-on-one of the same view.
    async with page.expect_navigation():
        await page.click("#rows-table a.rep-link >> nth=0")
    assert "/reps/" in page.url
    assert f"as_of={AS_OF}" in page.url
    await _expect_one_on_one(page, server)
    assert "一對一面談" in await page.inner_text("#knowledge")
    await page.screenshot(path=ARTIFACTS / "one-on-one-zh-TW.png", full_page=True)

    async with page.expect_navigation():
        await page.click("a[lang='en']")
    rep_id = await _expect_one_on_one(page, server)
    assert "Open deals" in await page.inner_text(".deals")
    await page.screenshot(path=ARTIFACTS / "one-on-one.png", full_page=True)
    assert await _printed_pages(page, "one-on-one") >= 1

    async with page.expect_navigation():
        await page.click("#back-to-team")
    await _expect_weekly(page, server)
    assert f"/reps/{rep_id}?" in (await page.get_attribute("a.rep-link >> nth=0", "href") or "")
    assert "What moved this week" in await page.inner_text("#weekly")
    await page.locator("#weekly").screenshot(path=ARTIFACTS / "weekly.png")
    assert await _printed_pages(page, "weekly") == 1


async def test_the_dashboard_in_headless_chromium(server: Server):
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 1000}, locale="en")
            page.set_default_timeout(20_000)

            # Given a signed-out browser, the dashboard asks for a key first.
            await page.goto(f"{server.base}/?period={QUARTER}")
            assert "/login" in page.url
            await page.fill("#key", "fl_not_a_key")
            await page.click("#signin")
            assert await page.is_visible("#signin-error")
            await page.fill("#key", server.read_key)
            await page.click("#signin")
            await page.wait_for_url(re.compile(rf"/\?period={QUARTER}$"))

            # The whole quarter: the numbers on screen are the API's.
            whole = await _expect(page, server, period=QUARTER)
            assert whole["closed_deals"] > 0
            assert await page.input_value("#as-of") == "2026-03-31"
            await page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)

            # The as-of slider: the period to the end of that day, `to` = the next day.
            async with page.expect_navigation():
                await page.locator("#as-of-slider").fill("45")
            assert await page.input_value("#as-of") == "2026-02-15"
            to_date = await _expect(page, server, **{"from": "2026-01-01", "to": "2026-02-16"})
            assert to_date != whole
            assert all(to_date[name] <= whole[name] for name in FIVE)

            # "As known then": known_at is the as-of instant; the demo was recorded only today.
            async with page.expect_navigation():
                await page.check("#known-then")
            known_at = await page.get_attribute("#knowledge", "data-known-at")
            assert known_at is not None
            assert known_at.startswith("2026-02-15T23:59:59.999999")
            then = await _expect(
                page, server, **{"from": "2026-01-01", "to": "2026-02-16", "known_at": known_at}
            )
            assert then["leads"] == 0
            async with page.expect_navigation():
                await page.uncheck("#known-then")

            # Traditional Chinese.
            async with page.expect_navigation():
                await page.click("a[lang='zh-TW']")
            assert await page.get_attribute("html", "lang") == "zh-TW"
            assert "成交案件" in await page.inner_text("#card-closed_deals h2")
            assert "銷售漏斗" in await page.inner_text(".charts")
            await page.screenshot(path=ARTIFACTS / "dashboard-zh-TW.png", full_page=True)

            # The manager's two meetings: the weekly meeting and a rep's one-on-one.
            await _meeting_pages(page, server)

            # Signing out ends the session.
            await page.click("#signout")
            await page.wait_for_url(re.compile(r"/login$"))
            await page.goto(f"{server.base}/")
            assert "/login" in page.url
        finally:
            await browser.close()

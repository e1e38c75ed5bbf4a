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

            # Signing out ends the session.
            await page.click("#signout")
            await page.wait_for_url(re.compile(r"/login$"))
            await page.goto(f"{server.base}/")
            assert "/login" in page.url
        finally:
            await browser.close()

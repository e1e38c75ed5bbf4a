"""A page in real headless Chromium (Debian's) reads the live feed with `EventSource`.

The server is the real `serve` command. A signed-in dashboard page opens the stream with its
session cookie alone; a page without a session opens it with a stream token in the URL.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import Page, async_playwright

from tests.e2e.served import Served, serve
from tests.e2e.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, _require_chromium
from tests.factories import sourced, visit

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed here (apt-get install chromium); CI runs this",
    ),
]

LISTEN = """url => {
    window.received = [];
    window.failures = 0;
    const source = new EventSource(url);
    source.onmessage = event => window.received.push({id: event.lastEventId, data: event.data});
    source.onerror = () => { window.failures += 1; };
    window.source = source;
}"""


async def append_two(served: Served) -> None:
    batch = [
        sourced("D-1", "R-1", "2026-01-05T00:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T00:00:00Z"),
    ]
    async with httpx.AsyncClient(base_url=served.base) as http:
        response = await http.post(
            "/v1/events", json=batch, headers={"Authorization": f"Bearer {served.admin_key}"}
        )
    assert response.status_code == 201, response.text


async def until(page: Page, expression: str) -> None:
    """Wait for `expression` to hold in the page (polled: the pages' CSP forbids eval)."""
    async with asyncio.timeout(20):
        while not await page.evaluate(expression):  # noqa: ASYNC110 - a page has no event here
            await asyncio.sleep(0.05)


async def two_messages(page: Page) -> list[dict[str, Any]]:
    """The page's messages once it has two; a third (an empty one) would show here too."""
    await until(page, "window.received.length >= 2")
    await page.wait_for_timeout(300)
    received: list[dict[str, Any]] = await page.evaluate("window.received")
    await page.evaluate("window.source.close()")
    return received


def assert_the_two_events(received: list[dict[str, Any]]) -> None:
    assert [message["id"] for message in received] == ["1", "2"]
    events = [orjson.loads(message["data"]) for message in received]
    assert [(e["position"], e["type"]) for e in events] == [
        (1, "lead.sourced"),
        (2, "visit.completed"),
    ]


async def test_a_page_reads_the_stream_with_its_session_or_a_token(database_url: str):
    _require_chromium()
    async with serve(database_url) as served, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            # Given a browser signed in to the dashboard
            page = await browser.new_page(locale="en")
            page.set_default_timeout(20_000)
            await page.goto(f"{served.base}/login")
            await page.fill("#key", served.admin_key)
            await page.click("#signin")
            await page.wait_for_url(f"{served.base}/**")
            assert "/login" not in page.url
            # When its page opens an EventSource on the feed, and events are appended
            await page.evaluate(LISTEN, "/v1/events/stream")
            await append_two(served)
            # Then it receives exactly those events, no empty message first
            assert_the_two_events(await two_messages(page))

            # Given another browser, with no session, and a token minted for it
            other = await browser.new_page(locale="en")
            other.set_default_timeout(20_000)
            await other.goto(f"{served.base}/login")
            async with httpx.AsyncClient(base_url=served.base) as http:
                minted = await http.post(
                    "/v1/events/stream/tokens",
                    headers={"Authorization": f"Bearer {served.admin_key}"},
                )
            token = minted.json()["access_token"]
            # Without it the stream stays shut; with it the page reads the feed
            await other.evaluate(LISTEN, "/v1/events/stream")
            await until(other, "window.failures >= 1")
            assert await other.evaluate("window.received") == []
            await other.evaluate("window.source.close()")
            await other.evaluate(LISTEN, f"/v1/events/stream?access_token={token}")
            assert_the_two_events(await two_messages(other))
        finally:
            await browser.close()

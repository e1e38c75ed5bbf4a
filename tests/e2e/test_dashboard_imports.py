"""The dashboard says when a view "as known then" predates the import of the period's history.

Imported events happened when the CRM says but were recorded by the import: as known before the
import, the ledger did not hold them, and the dashboard's notice says so (and only then).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import bearer
from tests.e2e.test_dashboard import sign_in
from tests.factories import sourced
from tests.importing import SALESFORCE, run_import

pytestmark = pytest.mark.e2e

NOTICE = re.compile(r'id="imported-history"[^>]*data-imported-on="([0-9-]+)"[^>]*>([^<]*)<')


def _notice(html: str) -> tuple[str, str] | None:
    found = NOTICE.search(html)
    return None if found is None else (found.group(1), found.group(2))


async def _page(client: httpx.AsyncClient, query: str) -> str:
    response = await client.get(f"/?{query}")
    assert response.status_code == 200, response.text
    return response.text


async def test_the_notice_shows_only_when_known_at_predates_the_periods_import(
    app, client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    zone = app.state.settings.zone
    # Given a Salesforce export imported today (its history: June to September 2026)
    ran = await run_import(
        database_url, "salesforce", str(SALESFORCE), "--mapping", str(SALESFORCE / "mapping.yaml")
    )
    assert ran.code == 0, ran.stderr
    # and an event of an older quarter sent late through the API (late, but not imported)
    late = sourced("D-LATE", "R-1", "2025-02-03T10:00:00Z")
    sent = await client.post(
        "/v1/events",
        content=orjson.dumps(late),
        headers={**bearer(tokens["events:write"]), "Content-Type": "application/cloudevents+json"},
    )
    assert sent.status_code == 201, sent.text
    assert (await sign_in(client, tokens["read"])).status_code == 303
    today = datetime.now(zone).date().isoformat()

    # When the imported quarter is viewed as known then (at its end, before the import)
    shown = _notice(await _page(client, "period=2026-Q3&known=then"))
    # Then the notice gives the day of the import
    assert shown is not None
    day, text = shown
    assert day == today
    assert text.strip() == (
        f"History for this period was imported on {today}; as known before then, "
        "it was not in the ledger."
    )
    # and says it in Traditional Chinese too
    chinese = _notice(await _page(client, "period=2026-Q3&known=then&lang=zh-TW"))
    assert chinese is not None and chinese[0] == today and "匯入" in chinese[1]

    # But as known now the imported history is shown, and nothing is to be said
    assert _notice(await _page(client, "period=2026-Q3&lang=en")) is None
    # nor for a quarter whose late history came from no import
    assert _notice(await _page(client, "period=2025-Q1&known=then")) is None
    # nor for a quarter with no imported history at all
    assert _notice(await _page(client, "period=2026-Q1&known=then")) is None


async def test_no_notice_when_known_at_follows_the_import(
    app, client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    zone = app.state.settings.zone
    # Given an event of today imported from an NDJSON file
    now = datetime.now(UTC) - timedelta(minutes=1)
    event = sourced("D-NOW", "R-1", now.isoformat())
    path = tmp_path / "events.ndjson"
    path.write_bytes(orjson.dumps(event) + b"\n")
    ran = await run_import(database_url, "events", str(path))
    assert ran.code == 0, ran.stderr
    assert (await sign_in(client, tokens["read"])).status_code == 303
    today = datetime.now(zone).date()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    # When its quarter is viewed as known at the end of today (after the import)
    html = await _page(client, f"period={quarter}&as_of={today.isoformat()}&known=then")
    # Then the imported event counts and no notice is shown
    assert 'data-metric="leads">1<' in html
    assert _notice(html) is None

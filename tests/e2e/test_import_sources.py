"""Importing HubSpot pages and NDJSON events (an audit export, checked against its digest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from service.importers.hubspot import map_hubspot_pages
from service.importers.mapping import load_import_mapping
from service.importers.runner import validate
from tests.conftest import bearer
from tests.importing import (
    HUBSPOT,
    SALESFORCE,
    answered_board,
    expected_board,
    run_import,
)

PAGES = sorted(str(path) for path in HUBSPOT.glob("*.json"))
Q3 = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))


async def test_hubspot_pages_import_as_their_history(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    mapping = HUBSPOT / "mapping.yaml"
    report = tmp_path / "report.csv"
    args = ("hubspot", *PAGES, "--mapping", str(mapping), "--json", "--report", str(report))
    summary = (await run_import(database_url, *args)).summary()
    assert summary["skipped_by_reason"] == {"HubSpot stage 'appointmentscheduled' is not mapped": 1}
    assert "deals-page-1.json,/results/0," in report.read_text()
    assert summary["events_by_type"]["deal.contract_signed"] == 3  # one deal re-won

    now = datetime.now(UTC)
    config = load_import_mapping(mapping).hubspot
    assert config is not None
    mapped = validate(
        map_hubspot_pages([Path(page) for page in PAGES], config, now), now, in_time_order=True
    )
    answer = await client.get(
        "/v1/scoreboard",
        params={"from": "2026-07-01", "to": "2026-10-01", "group_by": "rep"},
        headers=bearer(tokens["read"]),
    )
    assert answered_board(answer.json()) == expected_board(mapped, *Q3)
    deal = (await client.get("/v1/deals/HS-18231470115", headers=bearer(tokens["read"]))).json()
    assert (deal["stage"], deal["owner_rep_id"], deal["amount"][:5]) == ("won", "R-22", "52000")
    assert (deal["fsi_visits"], deal["fua_visits"], deal["calls"]) == (1, 1, 1)
    # The first associated company's id is the deal's account key
    assert deal["account"]["id"] == "9180021"

    strict = await run_import(database_url, *args, "--strict")
    assert strict.code == 1 and "appointmentscheduled" in strict.stderr
    again = (await run_import(database_url, *args)).summary()
    assert again["created"] == 0 and again["duplicate"] == summary["created"]


async def test_a_broken_hubspot_page_is_named(database_url: str, tmp_path: Path) -> None:
    page = tmp_path / "deals.json"
    document = orjson.loads((HUBSPOT / "deals-page-1.json").read_bytes())
    document["results"][1]["propertiesWithHistory"]["amount"][0]["value"] = "thirty"
    page.write_bytes(orjson.dumps(document))
    ran = await run_import(
        database_url, "hubspot", str(page), "--mapping", str(HUBSPOT / "mapping.yaml")
    )
    assert ran.code == 1
    assert "deals.json:/results/1/propertiesWithHistory/amount/0: amount" in ran.stderr


async def _audit_export(client: httpx.AsyncClient, token: str, path: Path) -> bytes:
    answer = await client.get(
        "/v1/audit/export", params={"period": "2026-Q3"}, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    await asyncio.to_thread(path.write_bytes, answer.content)
    return answer.content


async def test_an_audit_export_imports_back_as_duplicates_and_checks_its_digest(
    client: httpx.AsyncClient,
    tokens: dict[str, str],
    database_url: str,
    tmp_path: Path,
    test_server: object,
) -> None:
    mapping = SALESFORCE / "mapping.yaml"
    folder = tmp_path / "sf"
    folder.mkdir()
    for source in SALESFORCE.glob("*.csv"):
        (folder / source.name).write_bytes(source.read_bytes())
    await run_import(database_url, "salesforce", str(folder), "--mapping", str(mapping))
    export = tmp_path / "q3.ndjson"
    content = await _audit_export(client, tokens["audit"], export)
    lines = content.splitlines()

    back = (await run_import(database_url, "events", str(export), "--json")).summary()
    assert back["created"] == 0 and back["duplicate"] == len(lines) - 2
    assert back["verified"] is True
    assert back["source_digest"] == orjson.loads(lines[-1])["digest"]

    # Into a new ledger: every event created, then checked stored as exported.
    other = await test_server.create_database()  # type: ignore[attr-defined]
    try:
        fresh = (await run_import(other, "events", str(export), "--json")).summary()
        assert fresh["created"] == len(lines) - 2 and fresh["verified"] is True
    finally:
        await test_server.drop_database(other)  # type: ignore[attr-defined]

    # An altered line, or a cut-short file, stores nothing.
    event = orjson.loads(lines[3])
    event["data"]["rep_id"] = "R-99"
    altered = tmp_path / "altered.ndjson"
    altered.write_bytes(b"\n".join([*lines[:3], orjson.dumps(event), *lines[4:]]) + b"\n")
    ran = await run_import(database_url, "events", str(altered))
    assert ran.code == 1 and "altered.ndjson:4" in ran.stderr and "hash" in ran.stderr
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(b"\n".join(lines[:-1]) + b"\n")
    ran = await run_import(database_url, "events", str(cut))
    assert ran.code == 1 and "no trailer" in ran.stderr


async def test_plain_ndjson_cloudevents_import(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    events = [
        {
            "specversion": "1.0",
            "id": f"crm-{n}",
            "source": "crm",
            "type": "lead.sourced",
            "subject": f"D-{n}",
            "time": "2026-08-01T10:00:00+08:00",
            "data": {"rep_id": "R-07", "account": {"name": "Formosa Foods"}, "channel": "web"},
        }
        for n in range(3)
    ]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    summary = (await run_import(database_url, "events", str(path), "--json")).summary()
    assert summary["created"] == 3 and summary["verified"] is None
    events[1]["data"] = {"rep_id": "R-07"}
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    ran = await run_import(database_url, "events", str(path))
    assert ran.code == 1 and "events.ndjson:2" in ran.stderr

"""Importing a CRM's past: Salesforce exports through `funnel-ledger import`, read back over
HTTP."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from service.importers.mapping import load_import_mapping
from service.importers.rules import ImportRules
from service.importers.runner import validate
from service.importers.salesforce import map_salesforce
from tests.conftest import bearer
from tests.importing import SALESFORCE, answered_board, expected_board, run_import

MAPPING = SALESFORCE / "mapping.yaml"
Q3 = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))


def _mapped() -> int:
    now = datetime.now(UTC)
    config = load_import_mapping(MAPPING).salesforce
    assert config is not None
    return len(
        validate(
            map_salesforce(SALESFORCE, ImportRules.salesforce(config), now), now, in_time_order=True
        )
    )


def _export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(SALESFORCE, folder)
    return folder


async def _feed(client: httpx.AsyncClient, token: str) -> list[dict[str, object]]:
    answer = await client.get("/v1/events?after=0&limit=1000", headers=bearer(token))
    assert answer.status_code == 200
    events: list[dict[str, object]] = answer.json()["events"]
    return events


async def test_the_imported_quarter_is_the_fold_of_the_mapped_events(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    export = _export(tmp_path)
    ran = await run_import(
        database_url, "salesforce", str(export), "--mapping", str(MAPPING), "--json"
    )
    summary = ran.summary()
    assert summary["created"] == summary["events"] == _mapped() > 30
    assert summary["skipped"] == 0
    assert summary["events_by_type"]["deal.contract_signed"] == 4  # one deal won twice

    now = datetime.now(UTC)
    config = load_import_mapping(MAPPING).salesforce
    assert config is not None
    mapped = validate(
        map_salesforce(export, ImportRules.salesforce(config), now), now, in_time_order=True
    )
    answer = await client.get(
        "/v1/scoreboard",
        params={"from": "2026-07-01", "to": "2026-10-01", "group_by": "rep"},
        headers=bearer(tokens["read"]),
    )
    assert answer.status_code == 200, answer.text
    assert answered_board(answer.json()) == expected_board(mapped, *Q3)
    board = answered_board(answer.json())
    assert board["totals"]["closed_deals"] == 3
    # Three deals signed in Q3; the deal won twice adds its latest amount once.
    assert float(board["totals"]["closed_value"]["USD"]) == 120000 + 45000.5 + 210000

    # The deal whose owner changed is credited to its new owner; the moved-back deal is lost.
    deal = await client.get("/v1/deals/SF-0065e00000Opp03AAA", headers=bearer(tokens["read"]))
    assert deal.json()["owner_rep_id"] == "R-13"
    assert deal.json()["stage"] == "won"
    # The export's AccountId is the deal's account key
    assert deal.json()["account"] == {"name": "Tainan Textiles, Ltd.", "id": "0015e00000Acc03AAA"}
    lost = await client.get("/v1/deals/SF-0065e00000Opp02AAA", headers=bearer(tokens["read"]))
    assert lost.json()["stage"] == "lost"

    # As known before the import, the past was empty.
    before = await client.get(
        "/v1/scoreboard",
        params={"from": "2026-07-01", "to": "2026-10-01", "known_at": "2026-10-01T00:00:00Z"},
        headers=bearer(tokens["read"]),
    )
    assert before.json()["rows"] == []


async def test_a_second_import_is_all_duplicates(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    export = _export(tmp_path)
    args = ("salesforce", str(export), "--mapping", str(MAPPING), "--json")
    first = (await run_import(database_url, *args)).summary()
    again = (await run_import(database_url, *args)).summary()
    assert again["created"] == 0
    assert again["duplicate"] == first["created"]
    assert len(await _feed(client, tokens["read"])) == first["created"]


async def test_a_broken_row_stores_nothing_and_is_named(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    export = _export(tmp_path)
    path = export / "OpportunityHistory.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[6] = lines[6].replace("2026-07-08T03:00:00.000+0000", "2026-07-32T03:00:00.000+0000")
    path.write_text("".join(lines), encoding="utf-8")
    ran = await run_import(database_url, "salesforce", str(export), "--mapping", str(MAPPING))
    assert ran.code == 1
    assert "OpportunityHistory.csv:7" in ran.stderr
    assert "CreatedDate" in ran.stderr and "nothing stored" in ran.stderr
    assert await _feed(client, tokens["read"]) == []


async def test_a_bad_amount_and_broken_csv_are_named(database_url: str, tmp_path: Path) -> None:
    export = _export(tmp_path)
    opportunities = export / "Opportunity.csv"
    text = opportunities.read_text(encoding="utf-8-sig")
    opportunities.write_text(text.replace('"80000"', '"80,000"'), encoding="utf-8")
    ran = await run_import(database_url, "salesforce", str(export), "--mapping", str(MAPPING))
    assert ran.code == 1 and "Opportunity.csv:3: Amount" in ran.stderr

    export = _export(tmp_path / "again")
    tasks = export / "Task.csv"
    tasks.write_text(
        tasks.read_text(encoding="utf-8") + '"00T5e00000Tsk99AAA","unclosed\n', encoding="utf-8"
    )
    ran = await run_import(database_url, "salesforce", str(export), "--mapping", str(MAPPING))
    assert ran.code == 1 and "Task.csv:" in ran.stderr and "broken CSV" in ran.stderr


async def test_a_dry_run_stores_nothing_and_says_what_it_would(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    export = _export(tmp_path)
    args = ("salesforce", str(export), "--mapping", str(MAPPING), "--json")
    dry = (await run_import(database_url, *args, "--dry-run")).summary()
    assert dry["dry_run"] is True and dry["created"] == _mapped()
    assert await _feed(client, tokens["read"]) == []
    real = (await run_import(database_url, *args)).summary()
    assert real["created"] == dry["created"]
    assert (await run_import(database_url, *args, "--dry-run")).summary()["duplicate"] == dry[
        "created"
    ]


async def test_unmapped_rows_are_reported_and_strict_refuses_them(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    export = _export(tmp_path)
    raw = yaml.safe_load(MAPPING.read_text())
    del raw["salesforce"]["users"]["0055e000001Ab2AAAS"]  # R-12 unknown
    del raw["salesforce"]["stages"]["Closed - Disqualified"]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(raw))
    report = tmp_path / "skipped.csv"
    args = ("salesforce", str(export), "--mapping", str(mapping), "--report", str(report))

    strict = await run_import(database_url, *args, "--strict")
    assert strict.code == 1 and "--strict" in strict.stderr
    assert await _feed(client, tokens["read"]) == []

    summary = (await run_import(database_url, *args, "--json")).summary()
    assert summary["skipped"] > 0 and summary["created"] > 0
    with report.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary["skipped"]
    reasons = {row["reason"] for row in rows}
    assert "Salesforce stage 'Closed - Disqualified' is not mapped" in reasons
    assert any("'0055e000001Ab2AAAS'" in reason for reason in reasons)
    assert {"file": "OpportunityHistory.csv", "line": "20"} in [
        {"file": row["file"], "line": row["line"]} for row in rows
    ]


async def test_the_default_report_is_beside_the_input(database_url: str, tmp_path: Path) -> None:
    export = _export(tmp_path)
    ran = await run_import(database_url, "salesforce", str(export), "--mapping", str(MAPPING))
    assert ran.code == 0, ran.stderr
    assert (tmp_path / "export.import-report.csv").read_text().startswith("file,line,reason")


async def test_a_changed_mapping_that_rewrites_stored_events_is_refused_and_named(
    database_url: str, tmp_path: Path
) -> None:
    export = _export(tmp_path)
    assert (
        await run_import(database_url, "salesforce", str(export), "--mapping", str(MAPPING))
    ).code == 0
    raw = yaml.safe_load(MAPPING.read_text())
    raw["salesforce"]["stages"]["Closed Lost"]["data"]["reason"] = "another reason"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(raw))
    args = ("salesforce", str(export), "--mapping", str(mapping))
    dry = await run_import(database_url, *args, "--dry-run")
    assert dry.code == 1 and "OpportunityHistory.csv:9" in dry.stderr
    ran = await run_import(database_url, *args)
    assert ran.code == 1 and "refused by the ledger" in ran.stderr
    assert "OpportunityHistory.csv:9" in ran.stderr

"""Helpers of the import tests: running `funnel-ledger import` and folding mapped events."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from service.cli import app
from service.events.recorded import RecordedEvent
from service.importers.runner import Checked
from service.projections.scoreboard import compute_scoreboard

FIXTURES = Path(__file__).parent / "fixtures"
SALESFORCE = FIXTURES / "salesforce"
HUBSPOT = FIXTURES / "hubspot"


@dataclass(frozen=True, slots=True)
class Ran:
    """What one command printed, and its exit status."""

    code: int
    stdout: str
    stderr: str

    def summary(self) -> dict[str, Any]:
        """The `--json` summary."""
        assert self.code == 0, self.stderr
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed


async def run_import(database_url: str, *args: str) -> Ran:
    """`funnel-ledger import ARGS` on `database_url`, in a thread (it runs its own loop)."""
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "COLUMNS": "200"}
    result = await asyncio.to_thread(
        runner.invoke, app, ["import", *args], env=env, catch_exceptions=False
    )
    return Ran(result.exit_code, result.stdout, result.stderr)


def expected_board(events: list[Checked], start: datetime, end: datetime) -> dict[str, Any]:
    """The scoreboard by rep of the mapped events, folded as the contract says."""
    now = datetime.now(UTC)
    recorded = [
        RecordedEvent(
            position=index,
            subject=item.event.subject,
            stream_version=0,
            source=item.event.source,
            id=item.event.id,
            type=item.event.type,
            occurred_at=item.event.time,
            recorded_at=now,
            data=item.event.data_json(),
        )
        for index, item in enumerate(events, start=1)
    ]
    board = compute_scoreboard(recorded, start=start, end=end, known_at=None, group_by="rep")
    return {
        "rows": {row.key: numbers(row.numbers.to_json()) for row in board.rows},
        "totals": numbers(board.totals.to_json()),
    }


_NUMBERS = (
    "closed_deals",
    "committed_deals",
    "opportunities",
    "leads",
    "client_visits",
    "fsi_visits",
    "fua_visits",
    "closed_value",
    "open",
)


def numbers(row: dict[str, Any]) -> dict[str, Any]:
    """The five numbers of a row and their parts, as JSON."""
    return {name: row[name] for name in _NUMBERS}


def answered_board(body: dict[str, Any]) -> dict[str, Any]:
    """The same shape, from `GET /v1/scoreboard`."""
    return {
        "rows": {row["key"]: numbers(row) for row in body["rows"]},
        "totals": numbers(body["totals"]),
    }

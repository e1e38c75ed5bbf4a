"""The scoreboard as CSV, written from its JSON shape so that both always say the same.

One line per row, then a `totals` line; money per currency; a target and an attainment column
per metric that any row or the totals has a target for; last, the period's `working_days` on
every line (docs/targets.md). Every cell goes through `csv_cell`, as
in the exports: a row key a spreadsheet would run as a formula is written with a leading `'`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, Final

from service.api.http.tabular import BOM, csv_cell

FIVE = ("closed_deals", "committed_deals", "opportunities", "leads", "client_visits")
METRICS = (*FIVE, "calls")
"""The metrics a target can be set for, in the order of their target columns."""
COLUMNS = (
    "row",
    "key",
    *FIVE,
    "fsi_visits",
    "fua_visits",
    "open_leads",
    "open_opportunities",
    "open_committed_deals",
    "calls",
    "connected_calls",
    "talk_time_s",
)


def _lines(board: Mapping[str, Any]) -> list[tuple[str, str | None, Mapping[str, Any]]]:
    lines: list[tuple[str, str | None, Mapping[str, Any]]] = [
        ("row", row["key"], row) for row in board["rows"]
    ]
    lines.append(("totals", None, board["totals"]))
    return lines


def _number(value: float | None) -> str | None:
    """A target or an attainment as plain decimal text (None stays an empty cell)."""
    return None if value is None else format(value, "f").rstrip("0").rstrip(".")


def _goal_cells(numbers: Mapping[str, Any], metrics: Sequence[str]) -> list[str | None]:
    targets, attainment = numbers.get("targets") or {}, numbers.get("attainment") or {}
    cells: list[str | None] = []
    for metric in metrics:
        cells += [_number(targets.get(metric)), _number(attainment.get(metric))]
    return cells


def board_lines(board: Mapping[str, Any]) -> list[tuple[str, str | None, Mapping[str, Any]]]:
    """The rows of a scoreboard (in the shape of `GET /v1/scoreboard`), then its totals."""
    return _lines(board)


def csv_layout(
    lines: Sequence[tuple[str, str | None, Mapping[str, Any]]],
) -> tuple[list[str], list[str], list[str]]:
    """The header, the currencies and the metrics with targets that `lines` need."""
    currencies = sorted({c for _, _, numbers in lines for c in numbers["closed_value"]})
    goals = {m for _, _, numbers in lines for m in numbers.get("targets") or {}}
    metrics = [metric for metric in METRICS if metric in goals]
    header = [
        *COLUMNS,
        *(f"closed_value_{c}" for c in currencies),
        *(f"{kind}_{m}" for m in metrics for kind in ("target", "attainment")),
        "working_days",
    ]
    return header, currencies, metrics


def line_cells(
    kind: str,
    key: str | None,
    numbers: Mapping[str, Any],
    currencies: Sequence[str],
    metrics: Sequence[str],
    working_days: float | None = None,
) -> list[Any]:
    """One line's cells, in the order of `csv_layout`'s header (not yet through `csv_cell`)."""
    opened = numbers["open"]
    return [
        kind,
        key,
        *(numbers[metric] for metric in FIVE),
        numbers["fsi_visits"],
        numbers["fua_visits"],
        opened["leads"],
        opened["opportunities"],
        opened["committed_deals"],
        numbers["calls"],
        numbers["connected_calls"],
        numbers["talk_time_s"],
        *(numbers["closed_value"].get(c, "0") for c in currencies),
        *_goal_cells(numbers, metrics),
        _number(working_days),
    ]


NAME_COLUMNS: Final = {"rep": "rep_name", "account": "account_name"}
"""Rows by rep and by account name their key in a column right after it (blank on totals)."""


def name_column(group_by: object) -> str | None:
    """The column naming each row's key for boards grouped by `group_by`, if any."""
    return NAME_COLUMNS.get(group_by) if isinstance(group_by, str) else None


def with_name(cells: list[Any], numbers: Mapping[str, Any], column: str | None) -> list[Any]:
    """`cells` of one line with the key's name inserted after the key, when boards name keys."""
    if column is not None:
        cells.insert(2, numbers.get(column))
    return cells


def scoreboard_csv(board: Mapping[str, Any], *, bom: bool = False) -> str:
    """The scoreboard (in the shape of `GET /v1/scoreboard`) as CSV text, CRLF lines.

    With `bom`, the text starts with a byte-order mark, so that Excel reads it as UTF-8.
    """
    lines = _lines(board)
    header, currencies, metrics = csv_layout(lines)
    column = name_column(board.get("group_by"))
    if column is not None:
        header.insert(2, column)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header])
    for kind, key, numbers in lines:
        cells = line_cells(kind, key, numbers, currencies, metrics, board.get("working_days"))
        writer.writerow([csv_cell(cell) for cell in with_name(cells, numbers, column)])
    return (BOM if bom else "") + buffer.getvalue()

"""A series of scoreboards as one CSV: each sub-period's lines, its ends in the first columns.

The columns after `period_from` and `period_to` are the scoreboard CSV's; the money and target
columns are those any sub-period needs, so that every line has the same columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from service.api.http.scoreboard_csv import (
    board_lines,
    csv_layout,
    line_cells,
    name_column,
    with_name,
)
from service.api.http.tabular import BOM, csv_cell


def series_csv(
    periods: Sequence[Mapping[str, Any]], *, group_by: str | None = None, bom: bool = False
) -> str:
    """`periods` (each `{"from", "to", "working_days", "rows", "totals"}`) as CSV text, CRLF
    lines; by rep or account, each key's name follows it, as in the scoreboard's CSV."""
    lines = [(period, line) for period in periods for line in board_lines(period)]
    header, currencies, metrics = csv_layout([line for _, line in lines])
    column = name_column(group_by)
    if column is not None:
        header.insert(2, column)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in ("period_from", "period_to", *header)])
    for period, (kind, key, numbers) in lines:
        line = line_cells(kind, key, numbers, currencies, metrics, period.get("working_days"))
        cells = [period["from"], period["to"], *with_name(line, numbers, column)]
        writer.writerow([csv_cell(cell) for cell in cells])
    return (BOM if bom else "") + buffer.getvalue()

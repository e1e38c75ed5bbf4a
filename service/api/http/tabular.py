"""Rows with stable columns as CSV or JSON Lines, streamed chunk by chunk.

Every CSV cell goes through `csv_cell`: text a spreadsheet would run as a formula (starting
with `=`, `+`, `-`, `@`, TAB or CR) gets a leading `'`, as OWASP recommends against CSV
injection; a plain decimal number (`-12.50`) is left as it is. JSON Lines keep every value raw.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query

from service.api.http.export_stream import ExportResponse
from service.application.exports import ExportSlot

Format = Literal["csv", "jsonl"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
BOM = "\ufeff"
"""The byte-order mark that tells Excel a CSV file is UTF-8 (it guesses a legacy code page
otherwise). Off by default in the API: programs reading CSV would take it as part of the first
column's name."""
BomParam = Annotated[
    bool,
    Query(
        description="CSV only: start with a UTF-8 byte-order mark, so that Excel reads "
        "non-ASCII text (such as Chinese names) right. Off by default: other CSV readers "
        "would take it as part of the first column's name."
    ),
]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: null is empty, formula-like text neutralised with a leading `'`."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, header: bool) -> str:
    """CSV text (RFC 4180, CRLF) of `rows` in `columns` order; null is the empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(columns)
    writer.writerows([csv_cell(row.get(column)) for column in columns] for row in rows)
    return buffer.getvalue()


def jsonl_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """One JSON object per line, with exactly `columns` as keys, in that order."""
    return "".join(
        orjson.dumps({column: row.get(column) for column in columns}).decode() + "\n"
        for row in rows
    )


async def _encoded(
    download: Download, chunks: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[bytes]:
    fmt, columns = download.fmt, download.columns
    if fmt == "csv":
        yield ((BOM if download.bom else "") + csv_lines(columns, [], header=True)).encode()
    async for rows in chunks:
        text = (
            csv_lines(columns, rows, header=False) if fmt == "csv" else jsonl_lines(columns, rows)
        )
        yield text.encode()


@dataclass(frozen=True, slots=True)
class Download:
    """What a download is called and in which format, with the headers it carries.

    `bom`: a CSV download starts with a byte-order mark (JSON Lines never do).
    """

    name: str
    fmt: Format
    columns: Sequence[str]
    headers: Mapping[str, str] = field(default_factory=dict)
    bom: bool = False


def export_response(
    download: Download,
    chunks: AsyncIterator[list[dict[str, Any]]],
    *,
    slot: ExportSlot,
    stall_seconds: float,
) -> ExportResponse:
    """A download of `chunks` of rows as `name.csv` or `name.jsonl` (see `export_stream`)."""
    name, fmt = download.name, download.fmt
    return ExportResponse(
        _encoded(download, chunks),
        slot=slot,
        stall_seconds=stall_seconds,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"', **download.headers},
    )

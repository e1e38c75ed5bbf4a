"""Rows with stable columns as CSV or JSON Lines, streamed chunk by chunk."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Literal

import orjson
from fastapi.responses import StreamingResponse

Format = Literal["csv", "jsonl"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def csv_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, header: bool) -> str:
    """CSV text (RFC 4180, CRLF) of `rows` in `columns` order; null is the empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(columns)
    writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
    return buffer.getvalue()


def jsonl_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """One JSON object per line, with exactly `columns` as keys, in that order."""
    return "".join(
        orjson.dumps({column: row.get(column) for column in columns}).decode() + "\n"
        for row in rows
    )


async def _encoded(
    fmt: Format, columns: Sequence[str], chunks: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield csv_lines(columns, [], header=True).encode()
    async for rows in chunks:
        text = (
            csv_lines(columns, rows, header=False) if fmt == "csv" else jsonl_lines(columns, rows)
        )
        yield text.encode()


def export_response(
    name: str,
    fmt: Format,
    columns: Sequence[str],
    chunks: AsyncIterator[list[dict[str, Any]]],
    headers: Mapping[str, str] | None = None,
) -> StreamingResponse:
    """A download of `chunks` of rows as `name.csv` or `name.jsonl`."""
    return StreamingResponse(
        _encoded(fmt, columns, chunks),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"', **(headers or {})},
    )

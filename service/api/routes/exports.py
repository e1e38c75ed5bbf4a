"""`/v1/exports`: deals and flow facts as CSV or JSON Lines with stable columns (docs/bi.md).

The rows reflect the read models' position at the start (`X-Funnel-Position`): the deals are
those of that snapshot, each folded from its events up to that position, a page at a time on a
connection held only for the page; the facts are read in that snapshot before the first byte.
The folds run in a worker thread; see `export_stream` for the limits on the stream itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from service.api.deps import ServicesDep
from service.api.http.period_query import AsOf, ConsistencyParam, KnownAt, MinPosition, WindowDep
from service.api.http.tabular import BomParam, Download, Format, export_response
from service.api.http.time_params import as_of_or_now, known_at_or_now
from service.api.security.auth import ReaderKey
from service.application.bi_exports import DEAL_COLUMNS, FACT_COLUMNS, deal_rows, fact_rows

router = APIRouter(prefix="/v1/exports", tags=["exports"])

FormatParam = Annotated[Format, Query(alias="format", description="csv or jsonl")]
_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/deals", summary="Export deals", response_class=StreamingResponse, responses=_DOWNLOAD)
async def export_deals(
    services: ServicesDep,
    _key: ReaderKey,
    format_: FormatParam = "csv",
    bom: BomParam = False,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> StreamingResponse:
    """Every deal that exists at (`as_of`, `known_at`), one row each, by deal id."""
    settings = services.settings
    at, known = as_of_or_now(settings, as_of), known_at_or_now(settings, known_at)
    slot = services.exports.enter()
    try:
        read = await deal_rows(
            services, as_of=at, known_at=known, min_position=min_position, consistency=consistency
        )
    except BaseException:
        slot.release()
        raise
    headers = {"X-Funnel-Position": str(read.position)}
    download = Download("deals", format_, DEAL_COLUMNS, headers, bom=bom)
    return export_response(
        download, read.answer, slot=slot, stall_seconds=settings.export_stall_seconds
    )


@router.get(
    "/facts", summary="Export flow facts", response_class=StreamingResponse, responses=_DOWNLOAD
)
async def export_facts(
    services: ServicesDep,
    _key: ReaderKey,
    query: WindowDep,
    format_: FormatParam = "csv",
    bom: BomParam = False,
) -> StreamingResponse:
    """The events that count in [from, to) as known at `known_at` (`as_of` caps `occurred_at`)."""
    slot = services.exports.enter()
    try:
        read = await fact_rows(services, query)
    except BaseException:
        slot.release()
        raise
    headers = {"X-Funnel-Position": str(read.position)}
    download = Download("facts", format_, FACT_COLUMNS, headers, bom=bom)
    return export_response(
        download,
        read.answer,
        slot=slot,
        stall_seconds=services.settings.export_stall_seconds,
    )

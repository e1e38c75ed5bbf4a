"""`/v1/exports`: deals and flow facts as CSV or JSON Lines with stable columns (docs/bi.md).

The rows reflect the read models' position at the start (`X-Funnel-Position`): the deals are
those of that snapshot, each folded from its events up to that position, a page at a time on a
connection held only for the page; the facts are read in that snapshot before the first byte.
The folds run in a worker thread; see `export_stream` for the limits on the stream itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from service.api.auth import ReaderKey
from service.api.deps import ServicesDep
from service.api.params import as_of_or_now, known_at_or_now
from service.api.tabular import Download, Format, export_response
from service.api.window import AsOf, ConsistencyParam, KnownAt, MinPosition, WindowDep
from service.application.consistent_reads import snapshot
from service.application.services import Services
from service.events.recorded import RecordedEvent
from service.projections.deal import DealState, deal_state_at
from service.projections.teams import TeamHistory, team_at
from service.store.chain import iso
from service.store.deal_query import DealFilter, deal_ids
from service.store.export_query import counting_facts
from service.store.teams_query import team_history_known_at

router = APIRouter(prefix="/v1/exports", tags=["exports"])

DEAL_COLUMNS = (
    "deal_id",
    "stage",
    "owner_rep_id",
    "owner_team_id",
    "account_name",
    "account_industry",
    "account_size",
    "channel",
    "amount",
    "currency",
    "eb_name",
    "eb_title",
    "stage_entered_at",
    "first_event_at",
    "last_event_at",
    "fsi_visits",
    "fua_visits",
    "calls",
    "version",
)
FACT_COLUMNS = (
    "position",
    "deal_id",
    "kind",
    "rep_id",
    "team_id",
    "occurred_at",
    "recorded_at",
    "amount",
    "currency",
    "visit_kind",
)
FormatParam = Annotated[Format, Query(alias="format", description="csv or jsonl")]
_CHUNK = 500
_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


def _nested(value: Mapping[str, Any] | None, name: str) -> Any:
    return None if value is None else value.get(name)


def deal_row(state: DealState, team_id: str | None) -> dict[str, Any]:
    """A deal's export row (DEAL_COLUMNS) from its folded state."""
    return {
        "deal_id": state.deal_id,
        "stage": state.stage,
        "owner_rep_id": state.owner_rep_id,
        "owner_team_id": team_id,
        "account_name": _nested(state.account, "name"),
        "account_industry": _nested(state.account, "industry"),
        "account_size": _nested(state.account, "size"),
        "channel": state.channel,
        "amount": state.amount,
        "currency": state.currency,
        "eb_name": _nested(state.eb, "name"),
        "eb_title": _nested(state.eb, "title"),
        "stage_entered_at": None if state.stage_entered_at is None else iso(state.stage_entered_at),
        "first_event_at": iso(state.first_event_at),
        "last_event_at": iso(state.last_event_at),
        "fsi_visits": state.fsi_visits,
        "fua_visits": state.fua_visits,
        "calls": state.calls,
        "version": state.version,
    }


@dataclass(frozen=True, slots=True)
class _DealScope:
    """What the deal export folds: as of `at`, as known at `known`, up to log `position`."""

    teams: TeamHistory
    at: datetime
    known: datetime
    position: int


def _deal_rows(
    chunk: list[str], events: list[RecordedEvent], scope: _DealScope
) -> list[dict[str, Any]]:
    streams: dict[str, list[RecordedEvent]] = {deal_id: [] for deal_id in chunk}
    for event in events:
        # Later events than the snapshot's are left out: every row reflects one position.
        if event.position <= scope.position:
            streams[event.subject].append(event)
    rows = []
    for deal_id in chunk:
        state = deal_state_at(deal_id, streams[deal_id], as_of=scope.at, known_at=scope.known)
        if state is not None:
            rows.append(deal_row(state, team_at(scope.teams, state.owner_rep_id, scope.at)))
    return rows


async def _deal_chunks(
    services: Services, ids: list[str], scope: _DealScope
) -> AsyncIterator[list[dict[str, Any]]]:
    for index in range(0, len(ids), _CHUNK):
        chunk = ids[index : index + _CHUNK]
        events = await services.reader.streams(chunk, scope.known)
        yield await asyncio.to_thread(_deal_rows, chunk, events, scope)


async def _all_deal_ids(conn: AsyncConnection, at: datetime, known: datetime) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    while page := await deal_ids(
        conn, as_of=at, known_at=known, where=DealFilter(), after=after, limit=5000
    ):
        ids.extend(page)
        after = page[-1]
    return ids


@router.get("/deals", summary="Export deals", response_class=StreamingResponse, responses=_DOWNLOAD)
async def export_deals(
    services: ServicesDep,
    _key: ReaderKey,
    format_: FormatParam = "csv",
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
        async with snapshot(services, min_position, consistency) as snap:
            ids = await _all_deal_ids(snap.conn, at, known)
            teams = await team_history_known_at(snap.conn, known)
            position = snap.position
    except BaseException:
        slot.release()
        raise
    chunks = _deal_chunks(services, ids, _DealScope(teams, at, known, position))
    download = Download("deals", format_, DEAL_COLUMNS, {"X-Funnel-Position": str(position)})
    return export_response(download, chunks, slot=slot, stall_seconds=settings.export_stall_seconds)


def _fact_rows(facts: list[dict[str, Any]], teams: TeamHistory) -> list[dict[str, Any]]:
    return [
        {
            **fact,
            "team_id": team_at(teams, fact["rep_id"], fact["occurred_at"]),
            "occurred_at": iso(fact["occurred_at"]),
            "recorded_at": iso(fact["recorded_at"]),
        }
        for fact in facts
    ]


async def _fact_chunks(
    facts: list[dict[str, Any]], teams: TeamHistory
) -> AsyncIterator[list[dict[str, Any]]]:
    for index in range(0, len(facts), _CHUNK):
        yield _fact_rows(facts[index : index + _CHUNK], teams)


@router.get(
    "/facts", summary="Export flow facts", response_class=StreamingResponse, responses=_DOWNLOAD
)
async def export_facts(
    services: ServicesDep, _key: ReaderKey, query: WindowDep, format_: FormatParam = "csv"
) -> StreamingResponse:
    """The events that count in [from, to) as known at `known_at` (`as_of` caps `occurred_at`)."""
    window = query.window
    slot = services.exports.enter()
    try:
        async with snapshot(services, query.min_position, query.consistency) as snap:
            facts = await counting_facts(snap.conn, window, query.known_at)
            teams = await team_history_known_at(snap.conn, query.known_at)
            position = snap.position
    except BaseException:
        slot.release()
        raise
    download = Download("facts", format_, FACT_COLUMNS, {"X-Funnel-Position": str(position)})
    return export_response(
        download,
        _fact_chunks(facts, teams),
        slot=slot,
        stall_seconds=services.settings.export_stall_seconds,
    )

"""Exports for BI tools: deals and flow facts as rows with stable columns (docs/bi.md).

The rows reflect the read models' position when the export starts: the deals are those of that
snapshot, each folded from its events up to that position, a chunk at a time on a connection
held only for the chunk; the facts are read in that snapshot at once. The folds run in a worker
thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.application.analytics import WindowQuery
from service.application.consistent_reads import Consistency, Read, snapshot
from service.application.services import Services
from service.events.recorded import RecordedEvent
from service.projections.accounts import account_key
from service.projections.deal import DealState, deal_state_at
from service.projections.teams import TeamHistory, team_at
from service.store.chain.hashing import iso
from service.store.queries.deals import DealFilter, deal_ids
from service.store.queries.exports import counting_facts
from service.store.queries.teams import team_history_known_at

Rows = AsyncIterator[list[dict[str, Any]]]
"""An export's rows, a chunk at a time."""
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
    "account_id",
    "account_key",
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
    "subcount",
    "measure",
)
_CHUNK = 500


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
        "account_id": _nested(state.account, "id"),
        "account_key": account_key(state.account),
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


async def deal_rows(
    services: Services,
    *,
    as_of: datetime,
    known_at: datetime,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> Read[Rows]:
    """Every deal that exists at (`as_of`, `known_at`), one row each, by deal id."""
    async with snapshot(services, min_position, consistency) as snap:
        ids = await _all_deal_ids(snap.conn, as_of, known_at)
        teams = await team_history_known_at(snap.conn, known_at)
        position = snap.position
    return Read(_deal_chunks(services, ids, _DealScope(teams, as_of, known_at, position)), position)


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


async def fact_rows(services: Services, query: WindowQuery) -> Read[Rows]:
    """The events that count in the window as known at its `known_at`, one row each."""
    async with snapshot(services, query.min_position, query.consistency) as snap:
        facts = await counting_facts(snap.conn, query.window, query.known_at)
        teams = await team_history_known_at(snap.conn, query.known_at)
        position = snap.position
    return Read(_fact_chunks(facts, teams), position)

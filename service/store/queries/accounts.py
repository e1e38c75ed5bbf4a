"""Deals' accounts as known at a transaction time, from the read models and the log.

A deal's account is that of its latest counting `lead.sourced` (contract order) by an instant:
the flow facts of kind `sourced` say which events count, the log holds their `account`. The
pure twin is `service.projections.accounts.deal_accounts`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.recorded import RecordedEvent
from service.events.vocabulary import ACCOUNT_KEY_SET, LEAD_SOURCED, RETRACTION
from service.projections.accounts import (
    CONTACT_TYPES,
    DealAccount,
    KeyHistory,
    account_key,
    key_history,
)
from service.projections.knowledge import visible
from service.projections.rule_text import sql_text
from service.projections.rules import RULES
from service.store.log.event_rows import FOLD_COLUMNS, recorded_all
from service.store.projection.read_model_writer import LIVE, Tables

_SOURCED = sql_text(RULES.flow_kinds[LEAD_SOURCED])


def _accounts_sql(tables: Tables) -> str:
    return (
        "SELECT DISTINCT ON (f.deal_id) f.deal_id, e.data->'account' AS account, "
        f"f.occurred_at, f.position FROM {tables.facts} f JOIN events e ON e.position = f.position "
        f"WHERE f.kind = {_SOURCED} AND f.occurred_at <= :t AND f.recorded_at <= :k "
        "AND (f.retracted_at IS NULL OR f.retracted_at > :k) "
        "ORDER BY f.deal_id, f.occurred_at DESC, f.position DESC"
    )


async def deal_accounts_known_at(
    conn: AsyncConnection, instant: datetime, known_at: datetime, tables: Tables = LIVE
) -> dict[str, DealAccount]:
    """deal_id → its account at `instant` as known at `known_at` (deals with one only)."""
    result = await conn.execute(text(_accounts_sql(tables)), {"t": instant, "k": known_at})
    found: dict[str, DealAccount] = {}
    for deal_id, account, occurred_at, position in result:
        key = account_key(account)
        if key is not None:
            found[deal_id] = DealAccount(key, str(account["name"]), occurred_at, position)
    return found


_MARK_EVENTS = text(
    f"SELECT {FOLD_COLUMNS} FROM events "
    "WHERE subject LIKE 'account:%' AND type IN (:mark, :retraction) AND recorded_at <= :k "
    "AND position <= :p "
    "ORDER BY position"
)


async def key_history_known_at(conn: AsyncConnection, known_at: datetime, up_to: int) -> KeyHistory:
    """account key → its key-account marks known and unretracted at `known_at` (in the log up
    to position `up_to`).

    Marks are few, so they are folded from their events on each read, as reps' profiles are.
    """
    result = await conn.execute(
        _MARK_EVENTS, {"mark": ACCOUNT_KEY_SET, "retraction": RETRACTION, "k": known_at, "p": up_to}
    )
    events = recorded_all([tuple(row) for row in result])
    return key_history(visible(events, as_of=None, known_at=known_at))


_CONTACT_EVENTS = text(
    f"SELECT {FOLD_COLUMNS} FROM events WHERE subject = ANY(CAST(:deals AS text[])) "
    "AND type = ANY(CAST(:types AS text[])) AND recorded_at <= :k AND position <= :p "
    "ORDER BY position"
)
_DEAL_EVENTS = text(
    f"SELECT {FOLD_COLUMNS} FROM events WHERE subject = ANY(CAST(:deals AS text[])) "
    "AND recorded_at <= :k AND position <= :p ORDER BY position"
)


async def contact_events(
    conn: AsyncConnection, deals: list[str], known_at: datetime, up_to: int
) -> list[RecordedEvent]:
    """The visits and calls of `deals` recorded by `known_at` (up to position `up_to`), and
    the retractions among them."""
    types = [*CONTACT_TYPES, RETRACTION]
    params = {"deals": deals, "types": types, "k": known_at, "p": up_to}
    result = await conn.execute(_CONTACT_EVENTS, params)
    return recorded_all([tuple(row) for row in result])


async def deal_events(
    conn: AsyncConnection, deals: list[str], known_at: datetime, up_to: int
) -> list[RecordedEvent]:
    """Every event of `deals` recorded by `known_at` (up to position `up_to`), stored order."""
    params = {"deals": deals, "k": known_at, "p": up_to}
    result = await conn.execute(_DEAL_EVENTS, params)
    return recorded_all([tuple(row) for row in result])

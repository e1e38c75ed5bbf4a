"""Deals' accounts as known at a transaction time, from the read models and the log.

A deal's account is that of its latest counting `lead.sourced` (contract order) by an instant:
the flow facts of kind `sourced` say which events count, the log holds their `account`. The
pure twin is `service.projections.accounts.deal_accounts`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.vocabulary import LEAD_SOURCED
from service.projections.accounts import DealAccount, account_key
from service.projections.rule_text import sql_text
from service.projections.rules import RULES
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

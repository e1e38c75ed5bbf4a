"""Flow facts that count in a window, as rows for exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.projections.analytics import Window
from service.projections.rule_text import sql_text
from service.projections.rules import RULES
from service.store.projection.read_model_writer import LIVE, Tables

_SPLIT = sql_text(RULES.split_kind.name)
"""The visits' kind: the column `visit_kind` holds theirs, and other kinds' sub-count."""


async def counting_facts(
    conn: AsyncConnection, window: Window, known_at: datetime, tables: Tables = LIVE
) -> list[dict[str, Any]]:
    """Facts that occurred in [start, last], known and unretracted at `known_at`, by position."""
    result = await conn.execute(
        text(
            "SELECT position, deal_id, kind, rep_id, occurred_at, recorded_at, "
            "CASE WHEN amount IS NULL THEN NULL ELSE amount::text END AS amount, currency, "
            f"CASE WHEN kind = {_SPLIT} THEN visit_kind END AS visit_kind, "
            f"CASE WHEN kind <> {_SPLIT} THEN visit_kind END AS subcount, measure "
            f"FROM {tables.facts} WHERE occurred_at >= :start "
            "AND occurred_at <= :last AND recorded_at <= :k "
            "AND (retracted_at IS NULL OR retracted_at > :k) ORDER BY position"
        ),
        {"start": window.start, "last": window.last, "k": known_at},
    )
    return [dict(row._mapping) for row in result]

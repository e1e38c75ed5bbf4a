"""The inputs of the analytics from the read models: stage paths and sourced cohorts.

They equal `stage_paths` and `sourced_cohort` of `service.projections.analytics`, which fold the
raw events; `tests/e2e/test_analytics.py` checks it on generated histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.projections.analytics import StagePath, Window, stage_path
from service.projections.rule_text import sql_text
from service.projections.rules import RULES
from service.projections.timeline import Segment
from service.store.projection.read_model_writer import LIVE, Tables

_SOURCED = sql_text(RULES.kind_of("leads").name)


async def stage_paths(
    conn: AsyncConnection,
    *,
    as_of: datetime,
    known_at: datetime,
    tables: Tables = LIVE,
    deals: Sequence[str] | None = None,
) -> dict[str, StagePath]:
    """Every deal's stage path up to `as_of` as believed at `known_at` (only `deals`' if given)."""
    paths, _ = await paths_and_owners(
        conn, as_of=as_of, known_at=known_at, tables=tables, deals=deals
    )
    return paths


async def paths_and_owners(
    conn: AsyncConnection,
    *,
    as_of: datetime,
    known_at: datetime,
    tables: Tables = LIVE,
    deals: Sequence[str] | None = None,
) -> tuple[dict[str, StagePath], dict[str, str | None]]:
    """Every deal's stage path up to `as_of` and its owner at `as_of`, as believed at
    `known_at` (the owner of its last segment by then); only `deals`' if given."""
    only = "AND deal_id = ANY(CAST(:deals AS text[])) " if deals is not None else ""
    result = await conn.execute(
        text(
            f"SELECT deal_id, valid_from, stage, owner_rep_id FROM {tables.segments} "
            f"WHERE valid_from <= :t AND known_from <= :k AND known_to > :k {only}"
            "ORDER BY deal_id, valid_from"
        ),
        {"t": as_of, "k": known_at, "deals": list(deals or ())},
    )
    segments = [
        (row.deal_id, Segment(row.valid_from, None, row.stage, row.owner_rep_id)) for row in result
    ]
    paths: dict[str, StagePath] = {}
    owners: dict[str, str | None] = {}
    for deal, rows in groupby(segments, key=lambda pair: pair[0]):
        own = [segment for _, segment in rows]
        paths[deal], owners[deal] = stage_path(own), own[-1].owner_rep_id
    return paths, owners


async def sourced_cohort(
    conn: AsyncConnection, window: Window, known_at: datetime, tables: Tables = LIVE
) -> set[str]:
    """The deals with a counting `lead.sourced` in the window, as known at `known_at`."""
    result = await conn.execute(
        text(
            f"SELECT DISTINCT deal_id FROM {tables.facts} WHERE kind = {_SOURCED} "
            "AND occurred_at >= :start AND occurred_at <= :last AND recorded_at <= :k "
            "AND (retracted_at IS NULL OR retracted_at > :k)"
        ),
        {"start": window.start, "last": window.last, "k": known_at},
    )
    return {row.deal_id for row in result}

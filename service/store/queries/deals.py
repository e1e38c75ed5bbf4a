"""Finding deals by their stage, owner or team at (`as_of`, `known_at`) in the read models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.store.projection.read_model_writer import LIVE, Tables


@dataclass(frozen=True, slots=True)
class DealFilter:
    """Which deals to list; every given condition must hold at the instant asked about."""

    stage: str | None = None
    owner_rep_id: str | None = None
    owners: Sequence[str] | None = None


async def deal_ids(
    conn: AsyncConnection,
    *,
    as_of: datetime,
    known_at: datetime,
    where: DealFilter,
    after: str | None,
    limit: int,
    tables: Tables = LIVE,
) -> list[str]:
    """Up to `limit` deal ids after `after` (in id order) that exist and match at that instant."""
    conditions = [
        "valid_from <= :t",
        "valid_to > :t",
        "known_from <= :k",
        "known_to > :k",
    ]
    if where.stage is not None:
        conditions.append("stage = :stage")
    if where.owner_rep_id is not None:
        conditions.append("owner_rep_id = :owner")
    if where.owners is not None:
        conditions.append("owner_rep_id = ANY(CAST(:owners AS text[]))")
    if after is not None:
        conditions.append("deal_id > :after")
    result = await conn.execute(
        text(
            f"SELECT deal_id FROM {tables.segments} WHERE {' AND '.join(conditions)} "
            "ORDER BY deal_id LIMIT :limit"
        ),
        {
            "t": as_of,
            "k": known_at,
            "stage": where.stage,
            "owner": where.owner_rep_id,
            "owners": list(where.owners or ()),
            "after": after,
            "limit": limit,
        },
    )
    return [row.deal_id for row in result]


async def deals_in_stages(
    conn: AsyncConnection,
    *,
    as_of: datetime,
    known_at: datetime,
    stages: Sequence[str],
    owner_rep_id: str | None = None,
    tables: Tables = LIVE,
) -> list[str]:
    """Every deal in one of `stages` at that instant (of `owner_rep_id` when given), in id
    order, read in one statement (not page by page)."""
    owner = "" if owner_rep_id is None else " AND owner_rep_id = :owner"
    result = await conn.execute(
        text(
            f"SELECT deal_id FROM {tables.segments} WHERE valid_from <= :t AND valid_to > :t "
            "AND known_from <= :k AND known_to > :k "
            f"AND stage = ANY(CAST(:stages AS text[])){owner} ORDER BY deal_id"
        ),
        {
            "t": as_of,
            "k": known_at,
            "stages": [str(stage) for stage in stages],
            "owner": owner_rep_id,
        },
    )
    return [row.deal_id for row in result]

"""The scoreboard and the funnel from the in-memory mirror when it can serve, else from SQL."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from service.projections.scoreboard import GroupBy, Scoreboard
from service.projections.teams import TeamHistory
from service.store.mirror import query as mirror_query
from service.store.mirror.columns import Columns
from service.store.mirror.read_mirror import ReadMirror
from service.store.queries import scoreboard as scoreboard_query


async def scoreboard(
    conn: AsyncConnection,
    mirror: ReadMirror | None,
    position: int,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    history: TeamHistory,
) -> Scoreboard:
    """`scoreboard_query.scoreboard` on `conn`'s snapshot (at `position`), given its teams.

    The in-memory work (grouping a span's facts, assembling the rows) runs in a worker thread:
    the event loop goes on serving other requests meanwhile.
    """
    # Rows by account are answered from SQL: the copy holds no deal's account.
    use_copy = mirror is not None and group_by != "account"
    columns = await mirror.columns_at(conn, position) if use_copy and mirror else None
    if columns is None:
        parts = await scoreboard_query.board_parts(
            conn, start=start, end=end, known_at=known_at, group_by=group_by, history=history
        )
        return await asyncio.to_thread(
            functools.partial(
                scoreboard_query.assemble,
                parts,
                start=start,
                end=end,
                known_at=known_at,
                group_by=group_by,
                history=history,
            )
        )
    return await asyncio.to_thread(
        functools.partial(
            _from_columns,
            columns,
            start=start,
            end=end,
            known_at=known_at,
            group_by=group_by,
            history=history,
        )
    )


def _from_columns(
    columns: Columns,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    history: TeamHistory,
) -> Scoreboard:
    parts = mirror_query.board_parts(
        columns, start=start, end=end, known_at=known_at, group_by=group_by, history=history
    )
    return scoreboard_query.assemble(
        parts, start=start, end=end, known_at=known_at, group_by=group_by, history=history
    )


async def funnel(
    conn: AsyncConnection,
    mirror: ReadMirror | None,
    position: int,
    *,
    as_of: datetime,
    known_at: datetime,
    rep_id: str | None,
) -> dict[str, int]:
    """`scoreboard_query.funnel` on `conn`'s snapshot (at `position`)."""
    columns = await mirror.columns_at(conn, position) if mirror is not None else None
    if columns is None:
        return await scoreboard_query.funnel(conn, as_of=as_of, known_at=known_at, rep_id=rep_id)
    return mirror_query.funnel(columns, as_of=as_of, known_at=known_at, rep_id=rep_id)

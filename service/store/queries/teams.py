"""Team membership as known at a transaction time, read from the read models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.projections.teams import TeamHistory
from service.store.projection.read_model_writer import LIVE, Tables


async def team_history_known_at(
    conn: AsyncConnection, known_at: datetime, tables: Tables = LIVE
) -> TeamHistory:
    """rep → its assignments (valid_from, team) known and unretracted at `known_at`."""
    result = await conn.execute(
        text(
            f"SELECT rep_id, team_id, valid_from FROM {tables.teams} "
            "WHERE recorded_at <= :k AND (retracted_at IS NULL OR retracted_at > :k) "
            "ORDER BY rep_id, valid_from, position"
        ),
        {"k": known_at},
    )
    history: TeamHistory = {}
    for row in result:
        history.setdefault(row.rep_id, []).append((row.valid_from, row.team_id))
    return history


def team_intervals(
    history: TeamHistory,
) -> tuple[list[str], list[str], list[datetime], list[datetime | None]]:
    """The history as columns (rep, team, valid_from, valid_to) for a SQL join.

    Of several assignments at one instant the last stored wins, as in `team_at`, so the
    earlier ones become empty intervals and are left out.
    """
    reps: list[str] = []
    teams: list[str] = []
    starts: list[datetime] = []
    ends: list[datetime | None] = []
    for rep, assignments in history.items():
        for index, (valid_from, team) in enumerate(assignments):
            valid_to = assignments[index + 1][0] if index + 1 < len(assignments) else None
            if valid_to is not None and valid_to <= valid_from:
                continue
            reps.append(rep)
            teams.append(team)
            starts.append(valid_from)
            ends.append(valid_to)
    return reps, teams, starts, ends

"""Targets and priorities as known at a transaction time, read from the plan read model."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.recorded import RecordedEvent
from service.projections.targets import Plan, plan
from service.store.projection.read_model_writer import LIVE, Tables


async def plan_known_at(conn: AsyncConnection, known_at: datetime, tables: Tables = LIVE) -> Plan:
    """The plan from every target and priority event known and unretracted at `known_at`."""
    result = await conn.execute(
        text(
            f"SELECT position, subject, type, valid_from, recorded_at, data FROM {tables.plans} "
            "WHERE recorded_at <= :k AND (retracted_at IS NULL OR retracted_at > :k)"
        ),
        {"k": known_at},
    )
    return plan(
        RecordedEvent(
            position=row.position,
            subject=row.subject,
            stream_version=0,
            source="",
            id="",
            type=row.type,
            occurred_at=row.valid_from,
            recorded_at=row.recorded_at,
            data=row.data,
        )
        for row in result
    )

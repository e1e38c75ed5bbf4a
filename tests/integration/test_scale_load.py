"""The scale benchmark's loader writes the log the service would: a hash chain the verifier
accepts, across loads, that the real appender then carries on."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.datagen import Company, company_years
from bench.infra import asyncpg_dsn
from bench.scale_load import append_year
from service.events.envelope import parse_event
from service.store.chain.verifier import ChainVerifier
from service.store.log.appender import EventAppender
from service.store.projection.rebuild import rebuild

pytestmark = pytest.mark.integration

SMALL = Company(deals_per_year=60, reps=8, teams=2)


async def _verify(engine: AsyncEngine) -> tuple[bool, int]:
    async with engine.begin() as conn:
        report = await ChainVerifier(conn).verify()
    return report.ok, report.verified_through


async def test_loaded_years_form_one_chain_the_appender_continues(
    engine: AsyncEngine, database_url: str
):
    # Given two years of the company loaded one after the other
    years = list(company_years(SMALL, 2))
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for delivered in years:
            await append_year(conn, delivered)
    finally:
        await conn.close()
    total = sum(len(year) for year in years)
    # Then the chain verifies over every row, in delivery order
    assert await _verify(engine) == (True, total)
    async with engine.connect() as db:
        rows = (
            await db.execute(
                text(
                    "SELECT event_id, stream_version, recorded_at, occurred_at, type "
                    "FROM events ORDER BY position"
                )
            )
        ).all()
    assert [row.event_id for row in rows] == [e["id"] for year in years for _, e in year]
    recorded = [row.recorded_at for row in rows]
    assert recorded == sorted(recorded)
    assert all(row.recorded_at >= row.occurred_at for row in rows if row.type != "event.retracted")
    # And stream versions run on from the first year into the second
    subjects = [{event["subject"] for _, event in year} for year in years]
    deal = min(subject for subject in subjects[0] & subjects[1] if subject.startswith("D-"))
    async with engine.connect() as db:
        count, top = (
            await db.execute(
                text("SELECT count(*), max(stream_version) FROM events WHERE subject = :s"),
                {"s": deal},
            )
        ).one()
    assert count == top
    # When the real appender appends after the loaded log
    event = parse_event(
        {
            "specversion": "1.0",
            "id": "after-load",
            "source": "crm",
            "type": "call.logged",
            "subject": deal,
            "time": datetime.now(UTC).isoformat(),
            "data": {"rep_id": "R-001", "direction": "outbound", "duration_s": 60},
        }
    )
    [result] = await EventAppender(engine).append([event])
    # Then it continues the deal's stream and the chain still verifies end to end
    assert (result.position, result.stream_version) == (total + 1, count + 1)
    assert await _verify(engine) == (True, total + 1)
    # And the read models rebuild from the loaded log
    assert (await rebuild(engine, workers=1)).events == total + 1

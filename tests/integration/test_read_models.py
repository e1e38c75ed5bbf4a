"""The SQL read models answer exactly what the pure fold answers, on generated histories.

Each example appends a random history through the real appender (shuffled, in batches, with
re-sent duplicates and retractions, so `recorded_at` differs between batches), projects it, some
of it between batches, and compares every query with the fold over the raw log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.events.envelope import parse_event
from service.events.recorded import RecordedEvent
from service.projections import STAGES, GroupBy, compute_funnel, compute_scoreboard, deal_state_at
from service.store.database.engines import create_engine
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from service.store.mirror import columns as columns_module
from service.store.mirror import current as current_module
from service.store.mirror import reads as mirrored_reads
from service.store.mirror.read_mirror import ReadMirror
from service.store.projection import checkpoints
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import READ_MODELS
from service.store.queries import scoreboard as scoreboard_query
from service.store.queries.deals import DealFilter, deal_ids
from service.store.queries.teams import team_history_known_at
from tests import databases
from tests.histories import DEALS, INSTANTS, PERIODS, REPS, Delivery, deliveries, known_ats

pytestmark = pytest.mark.integration

GROUPS: tuple[GroupBy, ...] = ("rep", "team", "all", "account")
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,
    # Every example costs a database; shrinking would take minutes, so a failure is shown as drawn.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _mirror_at_checkpoint(engine: AsyncEngine, mirror: ReadMirror) -> None:
    """Bring the mirror to the read models' checkpoint (incrementally, once it has loaded)."""
    async with engine.connect() as conn:
        position = (await checkpoints.load(conn, READ_MODELS)).position
        assert await mirror.columns_at(conn, position) is not None


async def _append_and_project(
    engine: AsyncEngine, delivery: Delivery, data: st.DataObject, mirror: ReadMirror
) -> list[RecordedEvent]:
    appender = EventAppender(engine)
    for batch in delivery:
        await appender.append([parse_event(raw) for raw in batch])
        # Projecting part-way makes later batches re-fold deals already in the read models.
        if data.draw(st.booleans(), label="project now"):
            await catch_up(engine, data.draw(st.integers(1, 5), label="projector batch size"))
        # The mirror follows part-way too: later refreshes replace the deals touched since.
        if data.draw(st.booleans(), label="refresh the mirror now"):
            await _mirror_at_checkpoint(engine, mirror)
    await catch_up(engine, data.draw(st.integers(1, 50), label="projector batch size"))
    await _mirror_at_checkpoint(engine, mirror)
    return [event async for event in EventReader(engine).iterate()]


async def _assert_scoreboards(
    conn: AsyncConnection,
    log: list[RecordedEvent],
    known_at: datetime,
    data: st.DataObject,
    mirror: ReadMirror,
) -> None:
    periods = [PERIODS[0], data.draw(st.sampled_from(PERIODS[1:]), label="period")]
    position = (await checkpoints.load(conn, READ_MODELS)).position
    history = await team_history_known_at(conn, known_at)
    for start, end in periods:
        for group_by in GROUPS:
            stored = await scoreboard_query.scoreboard(
                conn, start=start, end=end, known_at=known_at, group_by=group_by
            )
            folded = compute_scoreboard(
                log, start=start, end=end, known_at=known_at, group_by=group_by
            )
            assert stored.to_json() == folded.to_json(), (start, end, known_at, group_by)
            # The in-memory mirror (what the service reads) answers the same.
            mirrored = await mirrored_reads.scoreboard(
                conn,
                mirror,
                position,
                start=start,
                end=end,
                known_at=known_at,
                group_by=group_by,
                history=history,
            )
            assert mirrored.to_json() == folded.to_json(), ("mirror", start, end, known_at)


async def _assert_funnel_and_deals(
    conn: AsyncConnection,
    log: list[RecordedEvent],
    known_at: datetime,
    data: st.DataObject,
    mirror: ReadMirror,
) -> None:
    as_of = data.draw(st.sampled_from([*INSTANTS, datetime.now(UTC)]), label="as_of")
    rep_id = data.draw(st.sampled_from([None, *REPS]), label="rep_id")
    funnel = await scoreboard_query.funnel(conn, as_of=as_of, known_at=known_at, rep_id=rep_id)
    folded = compute_funnel(log, as_of=as_of, known_at=known_at, rep_id=rep_id)
    assert funnel == folded
    position = (await checkpoints.load(conn, READ_MODELS)).position
    mirrored = await mirrored_reads.funnel(
        conn, mirror, position, as_of=as_of, known_at=known_at, rep_id=rep_id
    )
    assert mirrored == folded
    states = {deal: deal_state_at(deal, log, as_of=as_of, known_at=known_at) for deal in DEALS}
    existing = [deal for deal, state in states.items() if state is not None]
    ids = await deal_ids(
        conn, as_of=as_of, known_at=known_at, where=DealFilter(), after=None, limit=100
    )
    assert ids == existing
    stage = data.draw(st.sampled_from(STAGES), label="stage")
    owner = data.draw(st.sampled_from(REPS), label="owner")
    where = DealFilter(stage=stage, owner_rep_id=owner)
    filtered = await deal_ids(
        conn, as_of=as_of, known_at=known_at, where=where, after=None, limit=100
    )
    assert filtered == [
        deal
        for deal, state in states.items()
        if state is not None and state.stage == stage and state.owner_rep_id == owner
    ]


@PROPERTY
@given(delivery=deliveries(), data=st.data())
async def test_read_models_equal_the_fold(
    test_server: databases.TestServer, delivery: Delivery, data: st.DataObject
) -> None:
    # Given a fresh database holding a history delivered shuffled, in batches, with duplicates
    note(delivery.describe())
    url = await test_server.create_database()
    engine = create_engine(url, pool_size=2)
    # (the copy's reloaded deals left in its unsorted tails, or sorted in at once)
    unsorted_rows = data.draw(st.sampled_from([0, columns_module.UNSORTED_ROWS]), label="tail")
    # (the current segments' counts kept per block of a few rows, or of many)
    block_rows = data.draw(st.sampled_from([1, 3, current_module.BLOCK_ROWS]), label="block")
    try:
        mirror = ReadMirror(reload_beyond=data.draw(st.integers(1, 100), label="reload beyond"))
        with (
            patch.object(columns_module, "UNSORTED_ROWS", unsorted_rows),
            patch.object(current_module, "BLOCK_ROWS", block_rows),
        ):
            log = await _append_and_project(engine, delivery, data, mirror)
        # When the read models are asked about each moment knowledge changed (and now)
        async with engine.connect() as conn:
            for known_at in [*known_ats(log), datetime.now(UTC)]:
                # Then every answer is the fold of the raw log at that moment
                await _assert_scoreboards(conn, log, known_at, data, mirror)
                await _assert_funnel_and_deals(conn, log, known_at, data, mirror)
    finally:
        await engine.dispose()
        await test_server.drop_database(url)

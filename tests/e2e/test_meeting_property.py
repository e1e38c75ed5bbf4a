"""The weekly meeting's reads from the read models equal the pure folds of the raw log, on
generated histories (shuffled, batched, retried, with retractions)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.application.one_on_one import MeetingWindow
from service.application.weekly_meeting import _KIND_MOVES, read_weekly_meeting
from service.events.recorded import RecordedEvent
from service.projections import analytics
from service.projections.deal import deal_states, is_deal
from service.projections.knowledge import visible
from service.projections.rules import RULES, just_before
from tests import databases
from tests.e2e.live_service import live_service
from tests.histories import INSTANTS, PERIODS, Delivery, deliveries, known_ats

pytestmark = pytest.mark.e2e

PROPERTY = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def expected_moves(
    log: list[RecordedEvent], start: datetime, end: datetime, known_at: datetime
) -> set[tuple[str, str]]:
    """(move, deal) from the raw log: counting won/committed/qualified facts in [start, end),
    and deals entering stage lost then."""
    as_of = just_before(end)
    kinds = RULES.flow_kinds
    moves = {
        (_KIND_MOVES[kinds[event.type]], event.subject)
        for event in visible(log, as_of=as_of, known_at=known_at)
        if kinds.get(event.type) in _KIND_MOVES
        and is_deal(event.subject)
        and start <= event.occurred_at < end
    }
    paths = analytics.stage_paths(log, as_of=as_of, known_at=known_at)
    lost = {
        deal
        for deal, path in paths.items()
        if any(stage == "lost" and start <= at < end for at, stage in path)
    }
    return moves | {("lost", deal) for deal in lost}


def expected_pipeline(
    log: list[RecordedEvent], as_of: datetime, known_at: datetime
) -> dict[str, tuple[int, dict[str, Decimal]]]:
    """Per open stage, the deals in it at (`as_of`, `known_at`) and their amounts summed."""
    pipeline: dict[str, tuple[int, dict[str, Decimal]]] = {
        stage: (0, {}) for stage in analytics.OPEN_STAGES
    }
    for state in deal_states(visible(log, as_of=as_of, known_at=known_at)).values():
        if state.stage in pipeline:
            count, value = pipeline[state.stage]
            if state.amount is not None and state.currency is not None:
                value[state.currency] = value.get(state.currency, Decimal(0)) + Decimal(
                    state.amount
                )
            pipeline[state.stage] = (count + 1, value)
    return pipeline


@PROPERTY
@given(delivery=deliveries(max_events=20), data=st.data())
async def test_the_weekly_meeting_equals_the_pure_folds(
    test_server: databases.TestServer, delivery: Delivery, data: st.DataObject
) -> None:
    # Given a service holding a history delivered shuffled, in batches, with retractions
    async with live_service(test_server) as service:
        for batch in delivery:
            await service.post(list(batch))
        log = await service.log()
        moments = [*known_ats(log), datetime.now(UTC)]
        for _ in range(3):
            # When the weekly meeting is read for a period (as its week), known at some moment
            start, end = data.draw(st.sampled_from(PERIODS), label="period")
            end = data.draw(st.sampled_from([end, *(i for i in INSTANTS if start < i < end)]))
            known_at = data.draw(st.sampled_from(moments), label="known_at")
            as_of = just_before(end)
            window = MeetingWindow(start, end, as_of, known_at, ((start, end),), start)
            meeting = await read_weekly_meeting(
                service.services, window, quarter_start=start, group_by="rep"
            )
            # Then its moves and its pipeline are those folded from the raw log
            moves = {(move.move, move.deal_id) for move in meeting.moves}
            assert moves == expected_moves(log, start, end, known_at)
            pipeline = {stage.stage: (stage.deals, stage.value) for stage in meeting.pipeline}
            assert pipeline == expected_pipeline(log, as_of, known_at)


@PROPERTY
@given(delivery=deliveries(max_events=16), data=st.data())
async def test_the_weekly_meeting_kept_between_batches_is_never_stale(
    test_server: databases.TestServer, delivery: Delivery, data: st.DataObject
) -> None:
    # Given one window of the weekly meeting, read now, before any event and after each batch
    start, end = data.draw(st.sampled_from(PERIODS), label="period")
    as_of = just_before(end)
    async with live_service(test_server) as service:
        for batch in [(), *delivery]:
            if batch:
                await service.post(list(batch))
            log = await service.log()
            window = MeetingWindow(start, end, as_of, datetime.now(UTC), ((start, end),), start)
            # When it is read twice (the second time from what the service keeps)
            first, again = [
                await read_weekly_meeting(
                    service.services, window, quarter_start=start, group_by="rep"
                )
                for _ in range(2)
            ]
            # Then both equal the pure folds of the log as it stands after the batch
            for meeting in (first, again):
                moves = {(move.move, move.deal_id) for move in meeting.moves}
                assert moves == expected_moves(log, start, end, window.known_at)
                pipeline = {stage.stage: (stage.deals, stage.value) for stage in meeting.pipeline}
                assert pipeline == expected_pipeline(log, as_of, window.known_at)

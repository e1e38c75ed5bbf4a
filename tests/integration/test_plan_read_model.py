"""The plan read model (targets, priorities) equals the fold, before and after a rebuild."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import parse_event
from service.projections import visible
from service.projections.targets import plan
from service.store.log.appender import EventAppender
from service.store.log.reader import EventReader
from service.store.projection.projector import catch_up
from service.store.projection.rebuild import rebuild
from service.store.queries.plans import plan_known_at
from tests.factories import ce, retraction
from tests.histories import known_ats

pytestmark = pytest.mark.integration


def _target(subject: str, time: str, value: str, **kw: str) -> dict[str, object]:
    data = {"metric": "leads", "period": "month", "value": value}
    return ce("target.set", subject, time, data, **kw)


async def test_the_plan_read_model_equals_the_fold(engine: AsyncEngine) -> None:
    # Given targets and priorities in three batches, the last retracting one of them
    first = _target("rep:R-1", "2026-01-01T00:00:00Z", "4")
    second = _target("rep:R-1", "2026-02-01T00:00:00Z", "6")
    priorities = ce("team.priorities_set", "team:N", "2026-01-01T00:00:00Z", {"metrics": ["leads"]})
    appender = EventAppender(engine)
    for batch in ([first, priorities], [second, _target("team:N", "2026-01-01T00:00:00Z", "9")]):
        await appender.append([parse_event(raw) for raw in batch])
    await appender.append(
        [parse_event(retraction("rep:R-1", "R-1", "2026-03-01T00:00:00Z", second))]
    )
    await catch_up(engine, 2)
    log = [event async for event in EventReader(engine).iterate()]

    async def assert_equal() -> None:
        async with engine.connect() as conn:
            for known_at in known_ats(log):
                folded = plan(visible(log, as_of=None, known_at=known_at))
                assert await plan_known_at(conn, known_at) == folded, known_at

    # Then at every moment of knowledge the read model holds the folded plan, also once rebuilt
    await assert_equal()
    await rebuild(engine)
    await assert_equal()

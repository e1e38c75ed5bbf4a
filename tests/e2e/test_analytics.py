"""Each analytic through HTTP equals the pure function on the raw log, on generated histories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.events.recorded import RecordedEvent
from service.projections import analytics
from service.projections.analytics import Window
from tests import databases
from tests.conftest import bearer
from tests.e2e.live_service import LiveService, live_service
from tests.factories import ce, qualified, sourced
from tests.histories import INSTANTS, PERIODS, Delivery, deliveries, known_ats

pytestmark = pytest.mark.e2e

PROPERTY = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ROUTES = ("stage-times", "conversion", "win-rate", "waterfall")


def expected(route: str, log: list[RecordedEvent], window: Window, known_at: datetime) -> object:
    """The pure answer of one analytic."""
    paths = analytics.stage_paths(log, as_of=window.as_of, known_at=known_at)
    if route == "stage-times":
        return {"stages": analytics.time_in_stage(paths, window)}
    if route == "conversion":
        return analytics.conversion(paths, analytics.sourced_cohort(log, window, known_at))
    if route == "win-rate":
        return analytics.win_rate(paths, window)
    return analytics.waterfall(paths, window)


async def _assert_analytics(
    service: LiveService, log: list[RecordedEvent], window: Window, known_at: datetime
) -> None:
    params = {
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "as_of": window.as_of.isoformat(),
        "known_at": known_at.isoformat(),
    }
    for route in ROUTES:
        body = await service.get(f"/v1/analytics/{route}", **params)
        for key in ("from", "to", "as_of", "known_at", "position"):
            body.pop(key)
        assert body == expected(route, log, window, known_at), (route, window, known_at)


@PROPERTY
@given(delivery=deliveries(max_events=20), data=st.data())
async def test_every_analytic_equals_the_pure_fold(
    test_server: databases.TestServer, delivery: Delivery, data: st.DataObject
) -> None:
    # Given a service holding a history delivered shuffled, in batches, with retractions
    async with live_service(test_server) as service:
        for batch in delivery:
            await service.post(list(batch))
        log = await service.log()
        moments = [*known_ats(log), datetime.now(UTC)]
        # When each analytic is asked about some windows, as of some instants, known at some moments
        for _ in range(3):
            start, end = data.draw(st.sampled_from(PERIODS), label="period")
            as_of = data.draw(st.sampled_from([*INSTANTS, datetime.now(UTC)]), label="as_of")
            known_at = data.draw(st.sampled_from(moments), label="known_at")
            # Then every answer is the pure function over the raw log
            await _assert_analytics(service, log, Window(start, end, as_of), known_at)


async def test_a_small_funnel(client, tokens):
    # Given two leads sourced in Q1: one qualified, won a month later; one qualified, then lost
    events = [
        sourced("A", "R-1", "2026-01-05T00:00:00Z"),
        qualified("A", "R-1", "2026-01-15T00:00:00Z"),
        ce(
            "deal.contract_signed",
            "A",
            "2026-02-14T00:00:00Z",
            {"rep_id": "R-1", "amount": "5", "currency": "TWD", "contract_id": "C"},
        ),
        sourced("B", "R-2", "2026-02-01T00:00:00Z"),
        qualified("B", "R-2", "2026-02-11T00:00:00Z"),
        ce("deal.lost", "B", "2026-03-01T00:00:00Z", {"rep_id": "R-2", "reason": "price"}),
    ]
    headers = bearer(tokens["events:write"])
    assert (await client.post("/v1/events", json=events, headers=headers)).status_code == 201
    params = {"period": "2026-Q1", "as_of": "2026-06-30"}
    read = bearer(tokens["read"])

    # When the analytics of Q1 are asked
    times = (await client.get("/v1/analytics/stage-times", params=params, headers=read)).json()
    rate = (await client.get("/v1/analytics/win-rate", params=params, headers=read)).json()
    funnel = (await client.get("/v1/analytics/conversion", params=params, headers=read)).json()
    flow = (await client.get("/v1/analytics/waterfall", params=params, headers=read)).json()

    # Then: leads waited 10 days each; A spent 30 days as an opportunity, B 18
    assert times["stages"]["lead"] == {
        "stays": 2,
        "median_seconds": 864000.0,
        "p90_seconds": 864000.0,
    }
    assert times["stages"]["opportunity"]["median_seconds"] == 24 * 86400.0
    assert rate["won"] == 1 and rate["lost"] == 1 and rate["win_rate"] == 0.5
    assert funnel["cohort"] == 2 and funnel["reached"]["opportunity"] == 2
    assert funnel["steps"][0] == {
        "from": "lead",
        "to": "opportunity",
        "entered": 2,
        "converted": 2,
        "rate": 1.0,
    }
    assert (flow["start_open"], flow["new"], flow["won"], flow["lost"], flow["end_open"]) == (
        0,
        2,
        0,
        0,
        0,
    )
    assert flow["new_by_stage"]["won"] == 1 and flow["new_by_stage"]["lost"] == 1

"""Each analytic through HTTP equals the pure function on the raw log, on generated histories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.events.recorded import RecordedEvent
from service.projections import analytics
from service.projections.analytics import EVERY_DEAL, DealScope, Window
from service.projections.knowledge import visible
from service.projections.teams import team_history
from tests import databases
from tests.conftest import bearer
from tests.e2e.live_service import LiveService, live_service
from tests.factories import ce, qualified, sourced
from tests.histories import INSTANTS, PERIODS, REPS, TEAMS, Delivery, deliveries, known_ats

pytestmark = pytest.mark.e2e

PROPERTY = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ROUTES = ("stage-times", "conversion", "win-rate", "waterfall")
scopes = st.builds(
    DealScope,
    st.one_of(st.none(), st.sampled_from(REPS)),
    st.one_of(st.none(), st.sampled_from(TEAMS)),
)


def expected(
    route: str,
    log: list[RecordedEvent],
    window: Window,
    known_at: datetime,
    scope: DealScope = EVERY_DEAL,
) -> object:
    """The pure answer of one analytic, over the deals of `scope` (owner at `as_of`)."""
    paths = analytics.stage_paths(log, as_of=window.as_of, known_at=known_at)
    cohort = analytics.sourced_cohort(log, window, known_at)
    if not scope.everyone:
        owners = analytics.deal_owners(log, as_of=window.as_of, known_at=known_at)
        teams = team_history(visible(log, as_of=None, known_at=known_at))
        kept = analytics.deals_in_scope(owners, teams, scope, window.as_of)
        paths = {deal: path for deal, path in paths.items() if deal in kept}
        cohort &= kept
    if route == "stage-times":
        return {"stages": analytics.time_in_stage(paths, window)}
    if route == "conversion":
        return analytics.conversion(paths, cohort)
    if route == "win-rate":
        return analytics.win_rate(paths, window)
    return analytics.waterfall(paths, window)


async def _assert_analytics(
    service: LiveService,
    log: list[RecordedEvent],
    window: Window,
    known_at: datetime,
    scope: DealScope = EVERY_DEAL,
) -> None:
    params = {
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "as_of": window.as_of.isoformat(),
        "known_at": known_at.isoformat(),
    }
    filters = {"rep_id": scope.rep_id, "team_id": scope.team_id}
    params |= {name: value for name, value in filters.items() if value is not None}
    for route in ROUTES:
        body = await service.get(f"/v1/analytics/{route}", **params)
        for key in ("from", "to", "as_of", "known_at", "position"):
            body.pop(key)
        assert (body.pop("rep_id"), body.pop("team_id")) == (scope.rep_id, scope.team_id)
        want = expected(route, log, window, known_at, scope)
        assert body == want, (route, window, known_at, scope)


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
            scope = data.draw(scopes, label="scope")
            # Then every answer is the pure function over the raw log (and the scope's deals)
            await _assert_analytics(service, log, Window(start, end, as_of), known_at, scope)


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


async def test_a_rep_or_team_filter_keeps_the_deals_owned_at_as_of(client, tokens):
    # Given R-1 (North) who wins A, R-2 (South) who loses B, and B handed to R-1 in April
    events = [
        ce("rep.team_assigned", "rep:R-1", "2026-01-01T00:00:00Z", {"team_id": "North"}),
        ce("rep.team_assigned", "rep:R-2", "2026-01-01T00:00:00Z", {"team_id": "South"}),
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
        ce("deal.reassigned", "B", "2026-04-10T00:00:00Z", {"rep_id": "R-2", "to_rep_id": "R-1"}),
    ]
    headers = bearer(tokens["events:write"])
    assert (await client.post("/v1/events", json=events, headers=headers)).status_code == 201
    read = bearer(tokens["read"])

    async def win_rate(**params: str) -> dict[str, object]:
        query = {"period": "2026-Q1", **params}
        response = await client.get("/v1/analytics/win-rate", params=query, headers=read)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    # When the win rate of Q1 is asked per rep and team, as of March and as of May
    in_march = await win_rate(rep_id="R-2", as_of="2026-03-31")
    in_may = await win_rate(rep_id="R-2", as_of="2026-05-31")
    north = await win_rate(team_id="North", as_of="2026-05-31")
    both = await win_rate(rep_id="R-2", team_id="North", as_of="2026-03-31")

    # Then a deal counts for its owner at as_of: B is R-2's in March, R-1's (North) in May
    assert (in_march["won"], in_march["lost"], in_march["rep_id"]) == (0, 1, "R-2")
    assert (in_may["won"], in_may["lost"]) == (0, 0)
    assert (north["won"], north["lost"], north["win_rate"], north["team_id"]) == (
        1,
        1,
        0.5,
        "North",
    )
    assert (both["won"], both["lost"]) == (0, 0)

    # And a filter that is empty or too long is refused with a problem naming it
    response = await client.get(
        "/v1/analytics/waterfall", params={"period": "2026-Q1", "rep_id": ""}, headers=read
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "rep_id" in response.text

"""`GET /v1/scoreboard/series`: one scoreboard per day, week or month, each the scoreboard of it."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from service.api.app import create_app
from service.api.http.scoreboard_csv import scoreboard_csv
from service.keys.api_keys import Scope
from service.projections import GroupBy, compute_scoreboard
from service.store.chain.hashing import iso
from tests import databases
from tests.conftest import bearer, make_settings
from tests.e2e.test_consistency_property import Service, deliver, read_feed
from tests.factories import ce, signed, sourced, visit
from tests.histories import INSTANTS, PERIODS, Delivery, deliveries, recorded_from_feed

pytestmark = pytest.mark.e2e

PROPERTY = settings(
    max_examples=6,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GROUPS: tuple[GroupBy, ...] = ("rep", "team", "all", "account")
TAIPEI = "Asia/Taipei"
TARGET = {"metric": "client_visits", "period": "week", "value": 2}


@asynccontextmanager
async def fresh_service(
    test_server: databases.TestServer, **overrides: object
) -> AsyncIterator[Service]:
    url = await test_server.create_database()
    try:
        application = create_app(make_settings(url, **overrides))
        async with application.router.lifespan_context(application):
            keys = application.state.services.keys
            read = await keys.create("bi", frozenset({Scope.READ}))
            write = await keys.create("crm", frozenset({Scope.EVENTS_WRITE}))
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield Service(http, bearer(read.token), bearer(write.token))
    finally:
        await test_server.drop_database(url)


async def post(service: Service, *events: dict[str, Any]) -> None:
    response = await service.http.post(
        "/v1/events",
        content=orjson.dumps(list(events)),
        headers={**service.write, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text


def _numbers(board: dict[str, Any]) -> dict[str, Any]:
    return {"rows": board["rows"], "totals": board["totals"]}


@st.composite
def spans(draw: st.DrawFn) -> tuple[datetime, datetime, str]:
    """A period and an interval; days only over a few days, so that an example stays quick."""
    interval = draw(st.sampled_from(["day", "week", "month"]))
    if interval == "day":
        start = draw(st.sampled_from(INSTANTS[:-1]))
        return start, start + timedelta(days=draw(st.integers(1, 5))), interval
    start, end = draw(st.sampled_from(PERIODS))
    return start, end, interval


@PROPERTY
@given(delivery=deliveries(max_events=16), span=spans(), data=st.data())
async def test_each_sub_period_is_the_scoreboard_of_it(
    test_server: databases.TestServer,
    delivery: Delivery,
    span: tuple[datetime, datetime, str],
    data: st.DataObject,
) -> None:
    note(delivery.describe())
    async with fresh_service(test_server) as service:
        # Given a random history, delivered shuffled, re-sent and partly retracted
        await deliver(service, delivery)
        log = [recorded_from_feed(item) for item in await read_feed(service)]
        start, end, interval = span
        group_by = data.draw(st.sampled_from(GROUPS), label="group_by")
        known = data.draw(st.sampled_from([e.recorded_at for e in log]), label="known_at")
        # When the series of the period is asked for
        response = await service.get(
            "/v1/scoreboard/series",
            **{"from": iso(start), "to": iso(end)},
            interval=interval,
            group_by=group_by,
            known_at=iso(known),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        periods = body["periods"]
        # Then the sub-periods cover the period without gaps
        assert periods[0]["from"] == iso(start) and periods[-1]["to"] == iso(end)
        assert all(a["to"] == b["from"] for a, b in itertools.pairwise(periods))
        assert body["position"] == log[-1].position
        for period in periods:
            # And each is what the scoreboard and the pure fold answer for it
            single = await service.get(
                "/v1/scoreboard",
                **{"from": period["from"], "to": period["to"]},
                group_by=group_by,
                known_at=iso(known),
            )
            assert _numbers(period) == _numbers(single.json())
            expected = compute_scoreboard(
                log,
                start=datetime.fromisoformat(period["from"]),
                end=datetime.fromisoformat(period["to"]),
                known_at=known,
                group_by=group_by,
            ).to_json()
            assert _numbers(period) == _numbers(expected)


async def test_weeks_start_on_monday_in_the_company_zone(test_server: databases.TestServer):
    async with fresh_service(test_server, FUNNEL_TIMEZONE=TAIPEI) as service:
        # Given visits on each side of midnight between Sunday and Monday in Taipei (UTC+8)
        await post(
            service,
            sourced("D-1", "R-1", "2026-03-01T10:00:00+08:00", id="s"),
            visit("D-1", "R-1", "2026-03-01T23:30:00+08:00", id="v-sun"),  # Sunday
            visit("D-1", "R-1", "2026-03-02T00:30:00+08:00", id="v-mon"),  # Monday, 16:30Z Sun
            visit("D-1", "R-1", "2026-03-09T00:10:00+08:00", kind="FUA", id="v-next"),
            signed("D-1", "R-1", "2026-03-11T09:00:00+08:00", id="w"),
        )
        # When weeks are asked from a Wednesday (a date: its 00:00 in Taipei) to a Thursday
        response = await service.get(
            "/v1/scoreboard/series",
            **{"from": "2026-02-25", "to": "2026-03-12"},
            interval="week",
            group_by="all",
        )
        assert response.status_code == 200, response.text
        periods = response.json()["periods"]
        # Then the first and last weeks are partial and the others start on Monday, 00:00 +08:00
        assert [(p["from"], p["to"]) for p in periods] == [
            ("2026-02-24T16:00:00+00:00", "2026-03-01T16:00:00+00:00"),
            ("2026-03-01T16:00:00+00:00", "2026-03-08T16:00:00+00:00"),
            ("2026-03-08T16:00:00+00:00", "2026-03-11T16:00:00+00:00"),
        ]
        visits = [p["totals"]["client_visits"] for p in periods]
        assert visits == [1, 1, 1]
        assert [p["totals"]["closed_deals"] for p in periods] == [0, 0, 1]


async def test_days_and_months_in_the_company_zone(test_server: databases.TestServer):
    async with fresh_service(test_server, FUNNEL_TIMEZONE=TAIPEI) as service:
        await post(service, sourced("D-1", "R-1", "2026-01-31T23:59:00+08:00", id="s"))
        months = await service.get(
            "/v1/scoreboard/series",
            **{"from": "2026-01-15", "to": "2026-03-10"},
            interval="month",
            group_by="all",
        )
        assert [(p["from"], p["to"]) for p in months.json()["periods"]] == [
            ("2026-01-14T16:00:00+00:00", "2026-01-31T16:00:00+00:00"),
            ("2026-01-31T16:00:00+00:00", "2026-02-28T16:00:00+00:00"),
            ("2026-02-28T16:00:00+00:00", "2026-03-09T16:00:00+00:00"),
        ]
        assert [p["totals"]["leads"] for p in months.json()["periods"]] == [1, 0, 0]
        # A period starting mid-day: its first day is partial
        days = await service.get(
            "/v1/scoreboard/series",
            **{"from": "2026-01-31T12:00:00+08:00", "to": "2026-02-02"},
            interval="day",
            group_by="all",
        )
        assert [(p["from"], p["to"]) for p in days.json()["periods"]] == [
            ("2026-01-31T04:00:00+00:00", "2026-01-31T16:00:00+00:00"),
            ("2026-01-31T16:00:00+00:00", "2026-02-01T16:00:00+00:00"),
        ]
        assert [p["totals"]["leads"] for p in days.json()["periods"]] == [1, 0]


async def test_targets_are_those_of_each_sub_period_and_csv_says_the_same(
    test_server: databases.TestServer,
):
    async with fresh_service(test_server) as service:
        await post(
            service,
            ce("target.set", "rep:R-1", "2026-01-01T00:00:00Z", TARGET, id="t"),
            sourced("D-1", "R-1", "2026-03-02T09:00:00Z", id="s"),
            visit("D-1", "R-1", "2026-03-03T09:00:00Z", id="v"),
        )
        query = {"from": "2026-03-04", "to": "2026-03-17", "interval": "week"}
        body = (await service.get("/v1/scoreboard/series", **query)).json()
        for period in body["periods"]:
            single = await service.get(
                "/v1/scoreboard", **{"from": period["from"], "to": period["to"]}
            )
            assert _numbers(period) == _numbers(single.json())
        # A partial week from Wednesday holds 3 of the week's 5 working days: 3/5 of the target
        assert body["periods"][0]["rows"][0]["targets"] == {"client_visits": 1.2}
        assert body["periods"][0]["working_days"] == 3.0
        response = await service.get("/v1/scoreboard/series", **query, format="csv")
        assert response.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(response.text)))
        header = lines[0]
        assert header[:5] == ["period_from", "period_to", "row", "key", "rep_name"]
        assert "target_client_visits" in header
        # Each sub-period's lines are that sub-period's scoreboard CSV, behind its two ends
        expected: list[list[str]] = []
        for period in body["periods"]:
            board = {**period, "group_by": body["group_by"]}
            own = list(csv.reader(io.StringIO(scoreboard_csv(board))))
            assert own[0] == header[2:]
            expected += [[period["from"], period["to"], *line] for line in own[1:]]
        assert lines[1:] == expected


async def test_sub_periods_are_capped_and_the_span_is_checked(
    test_server: databases.TestServer,
):
    async with fresh_service(test_server) as service:
        just = await service.get(
            "/v1/scoreboard/series", **{"from": "2026-01-01", "to": "2027-02-05"}, interval="day"
        )
        assert just.status_code == 200, just.text
        assert len(just.json()["periods"]) == 400
        over = await service.get(
            "/v1/scoreboard/series", **{"from": "2026-01-01", "to": "2027-02-06"}, interval="day"
        )
        assert over.status_code == 422
        assert over.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in over.json()["errors"]] == ["/query/interval"]
        # Weeks over the same period are fine; beyond the longest span, `to` is named
        weeks = await service.get(
            "/v1/scoreboard/series", **{"from": "2026-01-01", "to": "2027-02-06"}, interval="week"
        )
        assert weeks.status_code == 200
        long = await service.get(
            "/v1/scoreboard/series", **{"from": "2000-01-01", "to": "2030-01-01"}, interval="month"
        )
        assert long.status_code == 422
        assert [e["pointer"] for e in long.json()["errors"]] == ["/query/to"]
        bad = await service.get("/v1/scoreboard/series", period="2026-Q1", interval="hour")
        assert bad.status_code == 422
        assert "/query/interval" in [e["pointer"] for e in bad.json()["errors"]]


async def test_known_at_sees_the_past(test_server: databases.TestServer):
    async with fresh_service(test_server) as service:
        await post(service, sourced("D-1", "R-1", "2026-03-02T09:00:00Z", id="s"))
        before = datetime.now(UTC)
        await post(service, sourced("D-2", "R-1", "2026-03-03T09:00:00Z", id="s2"))
        query = {"period": "2026-03", "interval": "month", "group_by": "all"}
        then = (await service.get("/v1/scoreboard/series", **query, known_at=iso(before))).json()
        now = (await service.get("/v1/scoreboard/series", **query)).json()
        assert then["known_at"] == iso(before)
        assert [p["totals"]["leads"] for p in then["periods"]] == [1]
        assert [p["totals"]["leads"] for p in now["periods"]] == [2]

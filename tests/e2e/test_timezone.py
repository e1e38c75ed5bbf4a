"""Dates, periods and naive date-times follow the company time zone (contract §5).

2026-03-31T15:59:59Z is 23:59:59 on 31 March in Taipei (Q1); 2026-03-31T16:00:00Z is 00:00 on
1 April there (Q2). Under UTC both instants are in Q1. Each test runs the same events under both
zones and expects the other answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from service.api.app import create_app
from service.keys.api_keys import Scope
from tests.conftest import bearer, make_settings
from tests.factories import signed, sourced

pytestmark = pytest.mark.e2e

TAIPEI = "Asia/Taipei"
LAST_SECOND_OF_Q1_IN_TAIPEI = "2026-03-31T15:59:59Z"
FIRST_INSTANT_OF_Q2_IN_TAIPEI = "2026-03-31T16:00:00Z"


@dataclass(frozen=True, slots=True)
class Zoned:
    """A service running in one company time zone, holding the boundary events."""

    http: httpx.AsyncClient
    read: dict[str, str]
    first_recorded_at: str

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        response = await self.http.get(path, params=params, headers=self.read)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def service_in(database_url: str, zone: str) -> AsyncIterator[Zoned]:
    """A service with `FUNNEL_TIMEZONE=zone`; D-1 signed in Taipei's Q1, D-2 in its Q2."""
    application = create_app(make_settings(database_url, FUNNEL_TIMEZONE=zone))
    async with application.router.lifespan_context(application):
        keys = application.state.services.keys
        read = bearer((await keys.create("bi", frozenset({Scope.READ}))).token)
        write = bearer((await keys.create("crm", frozenset({Scope.EVENTS_WRITE}))).token)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            batches = [
                [
                    sourced("D-1", "R-1", "2026-02-01T09:00:00+08:00"),
                    sourced("D-2", "R-1", "2026-02-01T09:00:00+08:00"),
                ],
                [
                    signed("D-1", "R-1", LAST_SECOND_OF_Q1_IN_TAIPEI, amount="100.00"),
                    signed("D-2", "R-1", FIRST_INSTANT_OF_Q2_IN_TAIPEI, amount="200.00"),
                ],
            ]
            for batch in batches:
                posted = await http.post(
                    "/v1/events",
                    content=orjson.dumps(batch),
                    headers={**write, "Content-Type": "application/cloudevents-batch+json"},
                )
                assert posted.status_code == 201, posted.text
            feed = (await http.get("/v1/events", headers=read)).json()["events"]
            yield Zoned(http, read, feed[0]["recorded_at"])


def _closed(body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    return body["totals"]["closed_deals"], body["totals"]["closed_value"]


@pytest.mark.parametrize(
    ("zone", "q1", "q2", "bounds"),
    [
        (
            TAIPEI,
            (1, {"TWD": "100.00"}),
            (1, {"TWD": "200.00"}),
            ("2025-12-31T16:00:00+00:00", "2026-03-31T16:00:00+00:00"),
        ),
        (
            "UTC",
            (2, {"TWD": "300.00"}),
            (0, {}),
            ("2026-01-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00"),
        ),
    ],
)
async def test_quarters_start_at_midnight_in_the_company_time_zone(
    database_url: str,
    zone: str,
    q1: tuple[int, dict[str, str]],
    q2: tuple[int, dict[str, str]],
    bounds: tuple[str, str],
) -> None:
    async with service_in(database_url, zone) as service:
        # When the quarters are asked for by shortcut
        first = await service.get("/v1/scoreboard", period="2026-Q1", group_by="all")
        second = await service.get("/v1/scoreboard", period="2026-Q2", group_by="all")
        # Then the boundary signings fall on either side of that zone's midnight
        assert _closed(first) == q1
        assert _closed(second) == q2
        assert (first["from"], first["to"]) == bounds
        # And dates as `from`/`to` mean the same midnights as the shortcut
        by_dates = await service.get(
            "/v1/scoreboard", **{"from": "2026-01-01", "to": "2026-04-01"}, group_by="all"
        )
        assert {**by_dates, "known_at": None} == {**first, "known_at": None}


async def test_open_deals_at_the_end_of_a_taipei_quarter(database_url: str) -> None:
    async with service_in(database_url, TAIPEI) as service:
        # When Q1 is asked for in Taipei, where D-2 was still a lead when the quarter ended
        board = await service.get("/v1/scoreboard", period="2026-Q1", group_by="rep")
        # Then it counts as an open lead of its owner, and both leads were sourced in Q1
        [row] = board["rows"]
        assert row["key"] == "R-1"
        assert (row["leads"], row["closed_deals"]) == (2, 1)
        assert row["open"] == {"leads": 1, "opportunities": 0, "committed_deals": 0}


async def test_a_month_shortcut_follows_the_time_zone_too(database_url: str) -> None:
    async with service_in(database_url, TAIPEI) as service:
        march = await service.get("/v1/scoreboard", period="2026-03", group_by="all")
        assert (march["from"], march["to"]) == (
            "2026-02-28T16:00:00+00:00",
            "2026-03-31T16:00:00+00:00",
        )
        assert _closed(march) == (1, {"TWD": "100.00"})


@pytest.mark.parametrize(
    ("zone", "end_of_day", "won", "d2_stage"),
    [
        (TAIPEI, "2026-03-31T15:59:59.999999+00:00", 1, "lead"),
        ("UTC", "2026-03-31T23:59:59.999999+00:00", 2, "won"),
    ],
)
async def test_as_of_a_date_means_the_end_of_that_date_in_the_time_zone(
    database_url: str, zone: str, end_of_day: str, won: int, d2_stage: str
) -> None:
    async with service_in(database_url, zone) as service:
        # When the funnel and D-2 are asked for as of 31 March
        funnel = await service.get("/v1/funnel", as_of="2026-03-31")
        deal = await service.get("/v1/deals/D-2", as_of="2026-03-31")
        # Then "31 March" ends at that zone's midnight
        assert funnel["as_of"] == end_of_day
        assert funnel["stages"]["won"] == won
        assert funnel["stages"]["lead"] == 2 - won
        assert (deal["as_of"], deal["stage"]) == (end_of_day, d2_stage)
        listed = await service.get("/v1/deals", as_of="2026-03-31", stage="won")
        assert [d["deal_id"] for d in listed["deals"]] == ["D-1", "D-2"][:won]


@pytest.mark.parametrize(
    ("zone", "before_q2", "q2_start"),
    [
        (TAIPEI, "2026-03-31T15:59:59+00:00", "2026-03-31T16:00:00+00:00"),
        ("UTC", "2026-03-31T23:59:59+00:00", "2026-04-01T00:00:00+00:00"),
    ],
)
async def test_naive_date_times_are_read_in_the_time_zone(
    database_url: str, zone: str, before_q2: str, q2_start: str
) -> None:
    async with service_in(database_url, zone) as service:
        # When instants are given without an offset
        deal = await service.get("/v1/deals/D-2", as_of="2026-03-31T23:59:59")
        at_midnight = await service.get("/v1/deals/D-2", as_of="2026-04-01T00:00:00")
        board = await service.get(
            "/v1/scoreboard",
            **{"from": "2026-03-31T00:00:00", "to": "2026-04-01T00:00:00"},
            group_by="all",
        )
        # Then they are that zone's wall-clock times
        assert deal["as_of"] == before_q2
        assert at_midnight["as_of"] == q2_start
        assert board["to"] == q2_start
        if zone == TAIPEI:
            assert (deal["stage"], at_midnight["stage"]) == ("lead", "won")
            assert _closed(board) == (1, {"TWD": "100.00"})
        else:
            assert (deal["stage"], at_midnight["stage"]) == ("won", "won")
            assert _closed(board) == (2, {"TWD": "300.00"})


async def test_a_naive_known_at_is_read_in_taipei_time(database_url: str) -> None:
    async with service_in(database_url, TAIPEI) as service:
        # Given the instant the leads were recorded, written as a naive Taipei wall-clock time
        recorded = datetime.fromisoformat(service.first_recorded_at)
        naive = recorded.astimezone(ZoneInfo(TAIPEI)).replace(tzinfo=None).isoformat()
        # When the funnel is asked as known then
        funnel = await service.get("/v1/funnel", known_at=naive)
        # Then it means that same instant: both leads, no signing yet
        assert funnel["known_at"] == service.first_recorded_at
        assert funnel["stages"]["lead"] == 2
        assert funnel["stages"]["won"] == 0

"""Through HTTP only: every read endpoint answers what the pure fold of the feed answers.

Each example posts a random history (shuffled, in batches, with re-sent duplicates and
retractions) to a fresh service, reads the whole feed back, and asks every read endpoint about
random (`as_of`, `known_at`), `known_at` taken from the feed's own `recorded_at` values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from service.api.app import create_app
from service.events.recorded import RecordedEvent
from service.events.vocabulary import RETRACTION
from service.keys.api_keys import Scope
from service.projections import (
    STAGES,
    GroupBy,
    compute_funnel,
    compute_scoreboard,
    deal_state_at,
    order_key,
    team_at,
    team_history,
    visible,
)
from service.projections.account_book import compute_account, compute_accounts
from service.projections.attainment import with_targets
from service.projections.rules import just_before
from service.projections.targets import plan
from service.store.chain.hashing import iso
from tests import databases
from tests.conftest import bearer, make_settings
from tests.histories import (
    ACCOUNT_KEYS,
    DEALS,
    INSTANTS,
    OFFSETS,
    PERIODS,
    REPS,
    TEAMS,
    Delivery,
    deliveries,
    recorded_from_feed,
)

pytestmark = pytest.mark.e2e

GROUPS: tuple[GroupBy, ...] = ("rep", "team", "all", "account")
PROPERTY = settings(
    max_examples=12,
    deadline=None,
    database=None,
    # Every example costs a database and a service; shrinking would take minutes.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
AS_OF_DATE = ("2026-03-31", datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC))
"""A date as `as_of` means the end of that date (UTC here)."""


@dataclass(frozen=True, slots=True)
class Service:
    """A running service on a fresh database, and a reader's and a writer's headers."""

    http: httpx.AsyncClient
    read: dict[str, str]
    write: dict[str, str]

    async def get(self, path: str, **params: str | None) -> httpx.Response:
        given = {name: value for name, value in params.items() if value is not None}
        return await self.http.get(path, params=given, headers=self.read)


@asynccontextmanager
async def fresh_service(test_server: databases.TestServer) -> AsyncIterator[Service]:
    url = await test_server.create_database()
    try:
        application = create_app(make_settings(url))
        async with application.router.lifespan_context(application):
            keys = application.state.services.keys
            read = await keys.create("bi", frozenset({Scope.READ}))
            write = await keys.create("crm", frozenset({Scope.EVENTS_WRITE}))
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield Service(http, bearer(read.token), bearer(write.token))
    finally:
        await test_server.drop_database(url)


async def deliver(service: Service, delivery: Delivery) -> None:
    seen: set[tuple[str, str]] = set()
    for batch in delivery:
        keys = {(raw["source"], raw["id"]) for raw in batch}
        response = await service.http.post(
            "/v1/events",
            content=orjson.dumps(list(batch)),
            headers={**service.write, "Content-Type": "application/cloudevents-batch+json"},
        )
        # 201 when anything is new, 200 when every event was a duplicate
        assert response.status_code == (201 if keys - seen else 200), response.text
        seen |= keys


async def read_feed(service: Service) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await service.get("/v1/events", after=str(after), limit="7")).json()
        items.extend(page["events"])
        if not page["events"]:
            return items
        after = page["next_after"]


def _without(body: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name not in names}


Board = tuple[tuple[datetime, datetime], GroupBy]
boards = st.tuples(st.sampled_from(PERIODS), st.sampled_from(GROUPS))


async def check_scoreboard(
    service: Service,
    log: list[RecordedEvent],
    known: tuple[str | None, datetime | None],
    board: Board,
) -> None:
    (start, end), group_by = board
    response = await service.get(
        "/v1/scoreboard",
        **{"from": iso(start), "to": iso(end)},
        known_at=known[0],
        group_by=group_by,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    folded = compute_scoreboard(log, start=start, end=end, known_at=known[1], group_by=group_by)
    seen = visible(log, as_of=None, known_at=known[1])
    expected = with_targets(folded, plan(seen), team_history(seen), UTC).to_json()
    assert response.headers["X-Funnel-Position"] == str(log[-1].position)
    assert body["position"] == log[-1].position
    if known[0] is None:
        # Known "now": the answer names the server's clock, which the fold cannot know.
        assert _without(body, "known_at", "position") == _without(expected, "known_at")
    else:
        assert _without(body, "position") == expected


async def check_funnel(
    service: Service,
    log: list[RecordedEvent],
    known: tuple[str | None, datetime | None],
    as_of: tuple[str | None, datetime | None],
    data: st.DataObject,
) -> None:
    rep_id = data.draw(st.sampled_from([None, *REPS]), label="funnel rep_id")
    response = await service.get("/v1/funnel", as_of=as_of[0], known_at=known[0], rep_id=rep_id)
    assert response.status_code == 200, response.text
    expected = compute_funnel(log, as_of=as_of[1], known_at=known[1], rep_id=rep_id)
    assert response.json()["stages"] == expected
    assert response.json()["rep_id"] == rep_id


async def check_deal_states(
    service: Service,
    log: list[RecordedEvent],
    known: tuple[str | None, datetime | None],
    as_of: tuple[str | None, datetime | None],
) -> None:
    for deal in [*DEALS, "D-never", "rep:R-1"]:
        response = await service.get(f"/v1/deals/{deal}", as_of=as_of[0], known_at=known[0])
        # A rep stream is no deal, even though it has events
        is_deal = not deal.startswith("rep:")
        state = deal_state_at(deal, log, as_of=as_of[1], known_at=known[1]) if is_deal else None
        if state is None:
            assert response.status_code == 404, (deal, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            continue
        assert response.status_code == 200, response.text
        body = response.json()
        assert _without(body, "as_of", "known_at", "position") == state.to_json()
        assert body["position"] == log[-1].position
        if as_of[1] is not None:
            assert body["as_of"] == iso(as_of[1])


async def check_deal_list(
    service: Service,
    log: list[RecordedEvent],
    known: tuple[str | None, datetime | None],
    as_of: tuple[str | None, datetime | None],
    data: st.DataObject,
) -> None:
    stage = data.draw(st.sampled_from([None, *STAGES]), label="list stage")
    owner = data.draw(st.sampled_from([None, *REPS]), label="list owner")
    team = data.draw(st.sampled_from([None, *TEAMS]), label="list team")
    limit = data.draw(st.integers(1, 3), label="list limit")
    listed: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = await service.get(
            "/v1/deals",
            as_of=as_of[0],
            known_at=known[0],
            stage=stage,
            owner=owner,
            team=team,
            limit=str(limit),
            after=after,
        )
        assert page.status_code == 200, page.text
        listed.extend(page.json()["deals"])
        after = page.json()["next_after"]
        if after is None:
            break
    teams = team_history(visible(log, as_of=None, known_at=known[1]))
    at = as_of[1] or datetime.now(UTC)
    expected = [
        state.to_json()
        for state in (deal_state_at(d, log, as_of=as_of[1], known_at=known[1]) for d in DEALS)
        if state is not None
        and stage in (None, state.stage)
        and owner in (None, state.owner_rep_id)
        and (team is None or team_at(teams, state.owner_rep_id, at) == team)
    ]
    assert listed == expected


async def check_deal_events(
    service: Service,
    feed: list[dict[str, Any]],
    log: list[RecordedEvent],
    known: tuple[str | None, datetime | None],
) -> None:
    by_position = {item["position"]: item for item in feed}
    for deal in DEALS:
        response = await service.get(f"/v1/deals/{deal}/events", known_at=known[0])
        stream = [
            e for e in log if e.subject == deal and (known[1] is None or e.recorded_at <= known[1])
        ]
        if not stream:
            assert response.status_code == 404, response.text
            continue
        assert response.status_code == 200, response.text
        undone = {
            (e.data["event_source"], e.data["event_id"]): {
                "source": e.source,
                "id": e.id,
                "position": e.position,
            }
            for e in stream
            if e.type == RETRACTION
        }
        fields = ("id", "source", "type", "subject", "time", "data", "position")
        expected = [
            {
                **{name: by_position[e.position][name] for name in fields},
                "stream_version": e.stream_version,
                "recorded_at": by_position[e.position]["recorded_at"],
                "retracted": e.key in undone,
                "retracted_by": undone.get(e.key),
            }
            for e in sorted(stream, key=order_key)
        ]
        assert response.json()["events"] == expected


async def check_accounts(
    service: Service,
    log: list[RecordedEvent],
    known: tuple[str | None, datetime | None],
    as_of: tuple[str | None, datetime | None],
    data: st.DataObject,
) -> None:
    start, end = data.draw(st.sampled_from(PERIODS), label="accounts period")
    # No as_of: the period's end (every generated period has ended).
    at = as_of[1] or just_before(end)
    period = {"from": iso(start), "to": iso(end)}
    response = await service.get("/v1/accounts", **period, as_of=as_of[0], known_at=known[0])
    assert response.status_code == 200, response.text
    expected = compute_accounts(log, start=start, end=end, as_of=at, known_at=known[1])
    assert response.json()["accounts"] == [summary.to_json() for summary in expected]
    assert response.json()["as_of"] == iso(at)
    for key in [*ACCOUNT_KEYS, "Formosa Foods Ltd"]:
        one = await service.get(f"/v1/accounts/{key}", **period, as_of=as_of[0], known_at=known[0])
        detail = compute_account(log, key, start=start, end=end, as_of=at, known_at=known[1])
        if detail is None:
            assert one.status_code == 404, (key, one.text)
            assert one.headers["content-type"] == "application/problem+json"
            continue
        assert one.status_code == 200, one.text
        assert _without(one.json(), "from", "to", "as_of", "known_at", "position") == (
            detail.to_json()
        )


def _as_of_choices() -> list[tuple[str | None, datetime | None]]:
    instants = [(i.astimezone(o).isoformat(), i) for i in INSTANTS for o in OFFSETS[:2]]
    return [(None, None), AS_OF_DATE, *instants]


@PROPERTY
@given(delivery=deliveries(max_events=20), data=st.data())
async def test_every_read_endpoint_equals_the_fold_of_the_feed(
    test_server: databases.TestServer, delivery: Delivery, data: st.DataObject
) -> None:
    note(delivery.describe())
    async with fresh_service(test_server) as service:
        # Given a history posted shuffled, in batches, re-sent and partly retracted
        await deliver(service, delivery)
        # And the log as the feed gives it back
        feed = await read_feed(service)
        log = [recorded_from_feed(item) for item in feed]
        assert [e.position for e in log] == list(range(1, len(log) + 1))
        recorded = sorted({item["recorded_at"] for item in feed})
        # Each request costs some milliseconds: ask at a few of the moments knowledge changed.
        sample = data.draw(
            st.lists(st.sampled_from(recorded), min_size=1, max_size=3, unique=True),
            label="known_at",
        )
        # One scoreboard is asked at every known_at: an answer must never be another's.
        same_board = data.draw(boards, label="scoreboard at every known_at")
        for known in [(None, None), *((text, datetime.fromisoformat(text)) for text in sample)]:
            as_of = data.draw(st.sampled_from(_as_of_choices()), label="as_of")
            # When each read endpoint is asked; then it answers the fold of the feed
            await check_scoreboard(service, log, known, same_board)
            await check_scoreboard(service, log, known, data.draw(boards, label="scoreboard"))
            await check_funnel(service, log, known, as_of, data)
            await check_deal_states(service, log, known, as_of)
            await check_deal_list(service, log, known, as_of, data)
            await check_deal_events(service, feed, log, known)
            await check_accounts(service, log, known, as_of, data)

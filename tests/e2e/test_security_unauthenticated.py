"""Unauthenticated traffic is cheap and limited: per client, before any database work."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

import service.keys.api_keys as keys_module
from service.api.app import create_app
from service.api.routes import webhooks as webhook_routes
from service.api.security.failed_auth import ClientFailures, client_of
from service.keys.api_keys import Scope
from service.webhooks.token_scan import may_carry_token
from tests.conftest import bearer, make_settings
from tests.e2e.test_dashboard import SAME_SITE
from tests.webhooks import AIRCALL_TOKEN, SECRETS, dumps, write_config

pytestmark = pytest.mark.e2e

ATTACKER = ("203.0.113.9", 40000)
CUSTOMER = ("198.51.100.7", 40001)


def random_token() -> str:
    """A well-formed token naming a key id that does not exist."""
    return f"fl_{secrets.token_hex(8)}_{secrets.token_hex(24)}"


@contextmanager
def key_queries(application: FastAPI) -> Iterator[list[str]]:
    """Every statement on the `api_keys` table while the block runs."""
    seen: list[str] = []
    engine = application.state.services.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "api_keys" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def served(
    database_url: str, **overrides: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient]]:
    """The app, a client at the attacker's address and one at a customer's."""
    application = create_app(make_settings(database_url, **overrides))
    async with application.router.lifespan_context(application):
        attacker = httpx.ASGITransport(app=application, client=ATTACKER)
        customer = httpx.ASGITransport(app=application, client=CUSTOMER)
        base = "http://testserver"
        async with (
            httpx.AsyncClient(transport=attacker, base_url=base) as bad,
            httpx.AsyncClient(transport=customer, base_url=base) as good,
        ):
            yield application, bad, good


def _assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["type"].endswith("/too-many-failures")


async def test_a_flood_of_bad_keys_makes_no_lookup_per_request_and_is_refused_past_its_budget(
    database_url: str,
) -> None:
    burst = 5
    async for application, attacker, customer in served(
        database_url, FUNNEL_AUTH_FAILURES_BURST=burst, FUNNEL_AUTH_FAILURES_PER_SECOND=0.01
    ):
        token = (await application.state.services.keys.create("bi", frozenset({Scope.READ}))).token
        assert (await customer.get("/v1/events", headers=bearer(token))).status_code == 200
        statuses: list[int] = []
        with key_queries(application) as queries:
            # When one client sends 300 random keys, a valid key served to another in between
            for round_ in range(300):
                response = await attacker.get("/v1/events", headers=bearer(random_token()))
                statuses.append(response.status_code)
                if round_ % 50 == 0:
                    served_ = await customer.get("/v1/events", headers=bearer(token))
                    assert served_.status_code == 200
            last = await attacker.get("/v1/events", headers=bearer(random_token()))
        # Then only the budget's worth of them reached the database ...
        assert len(queries) <= burst + 1  # + the valid key's one refresh, if its memory lapsed
        # ... the first were refused as unknown, every later one with 429 and Retry-After
        assert statuses[:burst] == [401] * burst
        assert set(statuses[burst:]) == {429}
        _assert_too_many(last)
        # Without a key, with a malformed one, or through the sign-in form: 429 as well
        _assert_too_many(await attacker.get("/v1/events"))
        _assert_too_many(await attacker.get("/v1/events", headers=bearer("nope")))
        _assert_too_many(
            await attacker.post("/login", data={"key": random_token()}, headers=SAME_SITE)
        )
        # And the customer is still served
        assert (await customer.get("/v1/events", headers=bearer(token))).status_code == 200


async def test_the_same_unknown_key_is_looked_up_once(app: FastAPI, client: httpx.AsyncClient):
    unknown = random_token()
    with key_queries(app) as queries:
        for _ in range(50):
            response = await client.get("/v1/events", headers=bearer(unknown))
            assert response.status_code == 401
    assert len(queries) == 1
    # A key id the service never makes (not 16 hex digits) is not looked up at all
    with key_queries(app) as queries:
        for _ in range(20):
            token = f"fl_{secrets.token_hex(9)}_{secrets.token_hex(24)}"
            assert (await client.get("/v1/events", headers=bearer(token))).status_code == 401
    assert queries == []


async def test_failed_sign_ins_are_limited_and_past_the_budget_look_nothing_up(
    database_url: str,
) -> None:
    async for application, attacker, customer in served(
        database_url, FUNNEL_AUTH_FAILURES_BURST=3, FUNNEL_AUTH_FAILURES_PER_SECOND=0.01
    ):
        token = (await application.state.services.keys.create("m", frozenset({Scope.READ}))).token
        with key_queries(application) as queries:
            statuses = [
                (
                    await attacker.post("/login", data={"key": random_token()}, headers=SAME_SITE)
                ).status_code
                for _ in range(20)
            ]
        assert statuses == [401] * 3 + [429] * 17
        assert len(queries) == 3
        signed_in = await customer.post("/login", data={"key": token}, headers=SAME_SITE)
        assert signed_in.status_code == 303


async def test_known_and_unknown_key_ids_are_judged_with_the_same_work(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str], monkeypatch
) -> None:
    # Given a known key id with a wrong secret, and an unknown key id, both seen once
    known_id = tokens["read"].split("_")[1]
    wrong_secret = f"fl_{known_id}_{secrets.token_hex(24)}"
    unknown = random_token()
    for token in (wrong_secret, unknown):
        assert (await client.get("/v1/events", headers=bearer(token))).status_code == 401
    # When each is judged again, counting the hashes and comparisons made
    store = app.state.services.keys
    work: list[str] = []
    hash_secret, compare = keys_module._hash, hmac.compare_digest

    def counting_hash(secret: str) -> bytes:
        work.append("hash")
        return hash_secret(secret)

    def counting_compare(a: bytes, b: bytes) -> bool:
        work.append("compare")
        return compare(a, b)

    monkeypatch.setattr(keys_module, "_hash", counting_hash)
    monkeypatch.setattr(hmac, "compare_digest", counting_compare)
    now = datetime.now(UTC)
    assert store.recall(wrong_secret, now) is None
    known_work, work[:] = list(work), []
    assert store.recall(unknown, now) is None
    # Then both are refused from memory, with the same work done
    assert known_work == work == ["hash", "compare"]
    # And through HTTP the two refusals are the same
    first = await client.get("/v1/events", headers=bearer(wrong_secret))
    second = await client.get("/v1/events", headers=bearer(unknown))
    assert (first.status_code, first.json()["detail"]) == (
        second.status_code,
        second.json()["detail"],
    )


@pytest.fixture
def webhook_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test webhook mapping, its secrets in the environment."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return str(write_config(tmp_path))


async def test_failed_webhook_deliveries_are_limited_before_the_body_is_read(
    database_url: str, webhook_config: str
) -> None:
    async for application, attacker, customer in served(
        database_url,
        FUNNEL_AUTH_FAILURES_BURST=3,
        FUNNEL_AUTH_FAILURES_PER_SECOND=0.01,
        FUNNEL_WEBHOOKS_CONFIG=webhook_config,
    ):
        wrong = dumps({"token": "wrong", "event": "call.ended"})
        statuses = [
            (await attacker.post("/webhooks/aircall", content=wrong)).status_code for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        pulled = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal pulled
            for _ in range(100):
                pulled += 1
                yield b"x" * 1024

        for path in (
            "/webhooks/aircall",
            "/webhooks/hubspot",
            "/webhooks/standard/erp",
            "/webhooks/salesforce",
        ):
            _assert_too_many(await attacker.post(path, content=body()))
        assert pulled == 0
        # Another client's genuine delivery is taken
        good = dumps({"token": AIRCALL_TOKEN, "event": "call.created", "data": {"id": 1}})
        assert (await customer.post("/webhooks/aircall", content=good)).status_code == 202
        assert await application.state.services.reader.head() == 0


async def test_an_aircall_body_without_its_token_is_refused_unparsed(
    database_url: str, webhook_config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[int] = []
    parse = webhook_routes._json

    def counting_parse(body: bytes) -> Any:
        parsed.append(len(body))
        return parse(body)

    monkeypatch.setattr(webhook_routes, "_json", counting_parse)
    async for _, attacker, _customer in served(database_url, FUNNEL_WEBHOOKS_CONFIG=webhook_config):
        heavy = dumps({"token": AIRCALL_TOKEN[:-1], "data": [{"a": [1] * 50}] * 2000})
        assert (await attacker.post("/webhooks/aircall", content=heavy)).status_code == 401
        assert parsed == []
        # The token nested deeper than the top level passes the scan but not the full check
        nested = dumps({"data": {"token": AIRCALL_TOKEN}})
        assert (await attacker.post("/webhooks/aircall", content=nested)).status_code == 401
        assert parsed == [len(nested)]


def test_the_token_scan_finds_only_the_exact_token() -> None:
    token = AIRCALL_TOKEN
    assert may_carry_token(b'{"token": "%s"}' % token.encode(), token)
    assert may_carry_token(b'{"x": 1,\n "token"\t:\r\n"%s"}' % token.encode(), token)
    assert may_carry_token(b'[{"token": "a"}, {"token": "%s"}]' % token.encode(), token)
    assert not may_carry_token(b'{"token": "%s"}' % token[:-1].encode(), token)
    assert not may_carry_token(b'{"token": "%sx"}' % token.encode(), token)
    assert not may_carry_token(b'{"tokens": "%s"}' % token.encode(), token)
    assert not may_carry_token(b"%s" % token.encode(), token)
    assert not may_carry_token(b"", token)
    # A token JSON could write with escapes is left to the full check
    assert may_carry_token(b"{}", 'with "quote"')
    assert may_carry_token(b"{}", "with/slash")


def test_each_client_has_its_own_failure_budget_refilled_over_time() -> None:
    now = [0.0]
    failures = ClientFailures(rate=0.5, burst=2, clock=lambda: now[0])
    assert failures.wait("a") == 0.0
    assert [failures.fail("a"), failures.fail("a")] == [0.0, 0.0]
    assert failures.wait("a") == pytest.approx(2.0)
    assert failures.wait("a") == pytest.approx(2.0)  # waiting spends nothing
    assert failures.fail("b") == 0.0
    now[0] = 2.0
    assert failures.wait("a") == 0.0
    assert failures.fail("a") == 0.0
    assert failures.fail("a") > 0


def test_the_clients_remembered_are_bounded() -> None:
    now = [0.0]
    failures = ClientFailures(rate=1.0, burst=1, clock=lambda: now[0], capacity=100)
    for n in range(1000):
        failures.fail(f"10.0.{n // 256}.{n % 256}")
    assert len(failures._buckets) <= 100


@pytest.mark.parametrize(
    ("client", "who"),
    [
        (("192.0.2.1", 1), "192.0.2.1"),
        (("2001:db8:1:2:3:4:5:6", 1), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:ffff::1", 1), "2001:db8:1:2::/64"),
        (("::ffff:192.0.2.1", 1), "192.0.2.1"),
        (None, "unknown"),
        (("testclient", 1), "testclient"),
    ],
)
def test_a_client_is_its_address_or_its_ipv6_network(client: Any, who: str) -> None:
    assert client_of({"type": "http", "client": client}) == who

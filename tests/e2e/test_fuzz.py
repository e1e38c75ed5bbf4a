"""A bounded schemathesis run against openapi.yaml: no 5xx, and every response as documented.

One test per operation of the document, sent in-process to the app on a real database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.api.app import create_app
from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine
from tests import databases
from tests.conftest import bearer, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Left out: the event stream (SSE) never ends by design, so fuzzing it only measures its
# heartbeat.
schema = schemathesis.openapi.from_path(SPEC).exclude(path="/v1/events/stream")


@pytest.fixture(scope="module")
async def fuzz_database(test_server: databases.TestServer) -> AsyncIterator[str]:
    """One migrated database for the whole run."""
    url = await test_server.create_database()
    yield url
    await test_server.drop_database(url)


@pytest.fixture(scope="module")
async def admin_token(fuzz_database: str) -> str:
    """An admin key: every route is reachable with it."""
    engine = create_engine(fuzz_database, pool_size=1)
    try:
        return (await KeyStore(engine).create("fuzz", frozenset({Scope.ADMIN}))).token
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def fuzzed_app(fuzz_database: str) -> Iterator[FastAPI]:
    """The app under fuzzing; reads never wait long for projections."""
    yield create_app(make_settings(fuzz_database, FUNNEL_READ_WAIT_SECONDS=0.05))
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(max_examples=10, deadline=3000, suppress_health_check=list(HealthCheck), database=None)
def test_api_never_fails_and_answers_as_documented(case, fuzzed_app, admin_token):
    case.call_and_validate(app=fuzzed_app, headers=bearer(admin_token), checks=CHECKS)

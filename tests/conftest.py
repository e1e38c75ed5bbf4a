"""Shared fixtures: a real PostgreSQL, a fresh migrated database per test, the app over HTTP."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service.api.app import create_app
from service.keys.api_keys import Scope
from service.settings import Settings
from tests.databases import TestServer
from tests.e2e.openapi_check import response_checker


def _fresh_directory() -> Path:
    """A new directory the embedded server's own user may enter."""
    path = Path(tempfile.mkdtemp(prefix="funnel-test-pg-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
async def test_server() -> AsyncIterator[TestServer]:
    """The PostgreSQL server of this test run, with a migrated template database."""
    # Not pytest's tmp_path: it prunes old base directories, which would pull the data
    # directory from under a server that another, longer test run still uses.
    data_dir = _fresh_directory()
    server = TestServer(data_dir)
    await server.prepare_template()
    yield server
    await server.close()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def database_url(test_server: TestServer) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    url = await test_server.create_database()
    yield url
    await test_server.drop_database(url)


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test app on `database_url`."""
    return Settings.model_validate({"DATABASE_URL": database_url, **overrides})


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings of the app under test."""
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application, with its lifespan running."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process; every JSON answer is held to the app's
    OpenAPI document (tests/e2e/openapi_check.py)."""
    transport = httpx.ASGITransport(app=app)
    hooks = {"response": [response_checker(app.openapi)]}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as http:
        yield http


@pytest.fixture
async def tokens(app: FastAPI) -> dict[str, str]:
    """One bearer token per scope, keyed by scope name."""
    keys = app.state.services.keys
    return {
        scope.value: (await keys.create(f"test-{scope.value}", frozenset({scope}))).token
        for scope in Scope
    }


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}

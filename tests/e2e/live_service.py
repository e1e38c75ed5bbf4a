"""A whole service on a fresh database for one property example, and small HTTP helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from service.api.app import create_app
from service.application.services import Services
from service.events.recorded import RecordedEvent
from service.keys.api_keys import Scope
from tests import databases
from tests.conftest import bearer, make_settings
from tests.histories import recorded_from_feed


@dataclass(frozen=True, slots=True)
class LiveService:
    """An HTTP client on a running app, with a writer and a reader token, and the app's
    services (for the reads that only the dashboard makes)."""

    client: httpx.AsyncClient
    writer: str
    reader: str
    services: Services

    async def post(self, events: list[dict[str, Any]]) -> None:
        """Append a batch; it must be accepted."""
        response = await self.client.post(
            "/v1/events",
            content=orjson.dumps(events),
            headers={**bearer(self.writer), "Content-Type": "application/cloudevents-batch+json"},
        )
        assert response.status_code in (200, 201), response.text

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET a JSON answer as the reader; it must be 200."""
        response = await self.client.get(path, params=params, headers=bearer(self.reader))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def log(self) -> list[RecordedEvent]:
        """The whole log, as the pure folds take it."""
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            page = await self.get("/v1/events", after=after, limit=1000)
            items += page["events"]
            if page["next_after"] == after:
                return [recorded_from_feed(item) for item in items]
            after = page["next_after"]


@asynccontextmanager
async def live_service(
    test_server: databases.TestServer, **overrides: object
) -> AsyncIterator[LiveService]:
    """A fresh database and an app on it, for one example of a property test."""
    url = await test_server.create_database()
    app = create_app(make_settings(url, **overrides))
    try:
        async with app.router.lifespan_context(app):
            keys = app.state.services.keys
            writer = (await keys.create("w", frozenset({Scope.EVENTS_WRITE}))).token
            reader = (await keys.create("r", frozenset({Scope.READ}))).token
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield LiveService(client, writer, reader, app.state.services)
    finally:
        await test_server.drop_database(url)

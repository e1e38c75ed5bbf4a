"""The live feed as a browser page reads it: `EventSource` sends no header, so a dashboard session
or a short-lived `?access_token=` opens it, and no client sees an empty first message.

The stream is read over a real socket and parsed by the WHATWG rules (html.spec.whatwg.org,
"Server-sent events", *interpreting an event stream*), and also by the laxer rule of common
client libraries, which report a block as a message as soon as it sets any field.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from itsdangerous import TimestampSigner

from service.api.security.stream_access import TOKEN_SECONDS
from service.settings import Settings
from tests.conftest import bearer, make_settings
from tests.factories import sourced, visit

pytestmark = pytest.mark.e2e

STREAM = "/v1/events/stream"
TOKENS = "/v1/events/stream/tokens"
NOT_THE_SERVICE = ("httpx", "httpcore", "uvicorn.access")
"""The test's own HTTP client logs the URLs it asks for, and uvicorn's access log is not the
service's: `funnel-ledger serve` turns it off (the service's own access log writes paths)."""


@dataclass
class Message:
    """One dispatched message: its data, last event id and the retry the client now uses."""

    data: str
    last_event_id: str
    retry: int | None


@dataclass
class EventStream:
    """A client's reading of an event stream, per the WHATWG rules; and what a lax client sees."""

    messages: list[Message] = field(default_factory=list)
    lax_messages: list[str] = field(default_factory=list)
    _data: list[str] = field(default_factory=list)
    _last_id: str = ""
    _retry: int | None = None
    _block_has_field: bool = False

    def feed(self, line: str) -> None:
        """Process one line (without its end of line)."""
        if line == "":
            self._dispatch()
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        self._block_has_field = True
        if name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self) -> None:
        if self._block_has_field:
            self.lax_messages.append("\n".join(self._data))
        if self._data:
            self.messages.append(Message("\n".join(self._data), self._last_id, self._retry))
        self._data, self._block_has_field = [], False


async def read(lines: AsyncIterator[str], stream: EventStream, count: int) -> None:
    """Feed lines until `count` messages were dispatched in all."""
    async for line in lines:
        stream.feed(line)
        if len(stream.messages) >= count:
            return


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, FUNNEL_SSE_HEARTBEAT_SECONDS=0.2)


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free local port (its lifespan already runs)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def two_events(client: httpx.AsyncClient, writer: str) -> None:
    batch = [
        sourced("D-1", "R-1", "2026-01-05T00:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T00:00:00Z"),
    ]
    response = await client.post("/v1/events", json=batch, headers=bearer(writer))
    assert response.status_code == 201


async def test_no_client_sees_an_empty_first_message(base_url, client, tokens):
    # Given an empty log, then a stream opened on it
    async with (
        asyncio.timeout(20),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        http.stream("GET", STREAM, headers=bearer(tokens["read"])) as response,
    ):
        lines = response.aiter_lines()
        stream = EventStream()
        # When the first events are appended while it is open
        await asyncio.sleep(0.3)  # the opening block and a heartbeat went out meanwhile
        await two_events(client, tokens["events:write"])
        await read(lines, stream, 2)
    # Then every client, strict or lax, sees exactly the two events, and the retry delay
    assert [orjson.loads(m.data)["position"] for m in stream.messages] == [1, 2]
    assert [m.last_event_id for m in stream.messages] == ["1", "2"]
    assert stream.messages[0].retry == 2000
    assert len(stream.lax_messages) == 2
    assert all(stream.lax_messages)


async def test_a_stream_token_opens_the_stream_without_a_header(base_url, client, tokens, caplog):
    await two_events(client, tokens["events:write"])
    # Given a token minted with a read key
    minted = await client.post(TOKENS, headers=bearer(tokens["read"]))
    assert minted.status_code == 200, minted.text
    token = minted.json()["access_token"]
    expires = datetime.fromisoformat(minted.json()["expires_at"])
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(seconds=TOKEN_SECONDS)
    # When a client with no header opens the stream with it
    caplog.set_level(logging.DEBUG)
    async with (
        asyncio.timeout(20),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        http.stream("GET", STREAM, params={"access_token": token}) as response,
    ):
        assert response.status_code == 200
        stream = EventStream()
        await read(response.aiter_lines(), stream, 2)
    # Then it reads the feed, and the token appears in no record the service logged
    assert [m.last_event_id for m in stream.messages] == ["1", "2"]
    async with asyncio.timeout(10):
        # The service logs a request once its stream has noticed the client left.
        while not any(r.name == "funnel_ledger.access" for r in caplog.records):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    logged = [
        record.getMessage() + orjson.dumps(record.__dict__, default=str).decode()
        for record in caplog.records
        if not record.name.startswith(NOT_THE_SERVICE)
    ]
    assert any(STREAM in text for text in logged)
    assert not any(token in text for text in logged)


async def test_a_stream_token_opens_nothing_else_and_dies_with_its_key(app, client, tokens):
    minted = await client.post(TOKENS, headers=bearer(tokens["admin"]))
    token = minted.json()["access_token"]
    # A token is no key: other routes refuse it, in the query or as a bearer
    assert (await client.get("/v1/events", params={"access_token": token})).status_code == 401
    assert (await client.get("/v1/events", headers=bearer(token))).status_code == 401
    # A forged or altered token is refused
    forged = await client.get(STREAM, params={"access_token": token[:-2] + "xx"})
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    # A key that may not read gets no token
    assert (await client.post(TOKENS, headers=bearer(tokens["events:write"]))).status_code == 403
    assert (await client.post(TOKENS)).status_code == 401
    # Revoking the key refuses its tokens at once
    keys = app.state.services.keys
    reader = await keys.create("page", frozenset({"read"}))
    revoked = (await client.post(TOKENS, headers=bearer(reader.token))).json()["access_token"]
    await keys.revoke(reader.key.key_id)
    assert (await client.get(STREAM, params={"access_token": revoked})).status_code == 401


async def test_a_stream_token_expires(client, tokens, monkeypatch):
    # Given a token signed longer ago than a token lives
    signed_at = int(datetime.now(UTC).timestamp()) - TOKEN_SECONDS - 1
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda _self: signed_at)
        old = (await client.post(TOKENS, headers=bearer(tokens["read"]))).json()["access_token"]
    # Then it opens nothing
    response = await client.get(STREAM, params={"access_token": old})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_the_dashboard_session_opens_the_stream(base_url, client, tokens):
    await two_events(client, tokens["events:write"])
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        # Given a browser signed in to the dashboard (its cookie jar holds the session)
        signed_in = await http.post(
            "/login", data={"key": tokens["read"]}, headers={"Origin": base_url}
        )
        assert signed_in.status_code == 303, signed_in.text
        # When it opens the stream with no header
        async with http.stream("GET", STREAM) as response:
            assert response.status_code == 200
            stream = EventStream()
            await read(response.aiter_lines(), stream, 2)
        assert [m.last_event_id for m in stream.messages] == ["1", "2"]
        # And once signed out, its cookie opens nothing
        cookie = http.cookies.get("fl_session")
        assert (await http.post("/logout", headers={"Origin": base_url})).status_code == 303
        stale = await http.get(STREAM, headers={"Cookie": f"fl_session={cookie}"})
        assert stale.status_code == 401

"""Through HTTP, a log holding an older shape of `visit.completed`: the feed shows the rows as
stored, the deal and the scoreboard count them as the contract's shape, writers use the new one."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from service.store.database.engines import create_engine
from tests.conftest import bearer
from tests.factories import visit
from tests.integration.test_upcasting import old_log, store_as_before, twins

pytestmark = pytest.mark.e2e


async def write(client: httpx.AsyncClient, token: str, events: list[dict[str, Any]]) -> int:
    response = await client.post(
        "/v1/events",
        content=orjson.dumps(events),
        headers={**bearer(token), "Content-Type": "application/cloudevents-batch+json"},
    )
    return response.status_code


async def read(client: httpx.AsyncClient, token: str, path: str, **params: str) -> Any:
    response = await client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


async def test_old_rows_are_shown_as_stored_and_counted_as_current(
    client: httpx.AsyncClient, tokens: dict[str, str], database_url: str
) -> None:
    # Given visits an earlier release stored at schema version 0, and their twins posted now
    engine = create_engine(database_url)
    try:
        await store_as_before(engine, old_log())
    finally:
        await engine.dispose()
    assert await write(client, tokens["events:write"], twins()) == 201
    reader = tokens["read"]
    # Then the feed shows each row as stored: its bytes are what the hash chain covers
    feed = (await read(client, reader, "/v1/events", limit="100"))["events"]
    stored = {item["id"]: (item["schema_version"], item["data"]) for item in feed}
    assert stored["o-2"] == (0, {"rep_id": "R-OLD", "type": "first"})
    old_visits = {"o-2", "o-3", "o-5"}
    assert {key: version for key, (version, _) in stored.items()} == {
        key: 0 if key in old_visits else 1 for key in stored
    }
    # And a deal and the scoreboard count the old visits as their twins
    counts = [
        await read(client, reader, f"/v1/deals/{deal}", as_of="2026-03-01")
        for deal in ("D-OLD-1", "D-NEW-1")
    ]
    assert [(c["fsi_visits"], c["fua_visits"]) for c in counts] == [(1, 1), (1, 1)]
    board = await read(client, reader, "/v1/scoreboard", period="2026-Q1", group_by="rep")
    rows = {row["key"]: {k: v for k, v in row.items() if k != "key"} for row in board["rows"]}
    assert rows["R-OLD"] == rows["R-NEW"]
    assert (rows["R-OLD"]["fsi_visits"], rows["R-OLD"]["fua_visits"]) == (1, 2)


async def test_writers_may_only_append_the_current_shape(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    old = visit("D-1", "R-1", "2026-01-06T09:00:00Z")
    old["data"] = {"rep_id": "R-1", "type": "first"}
    response = await client.post(
        "/v1/events",
        content=orjson.dumps([old]),
        headers={**bearer(tokens["events:write"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert {"/data/kind", "/data/type"} <= pointers

"""A database written by an earlier version, holding events whose time lies out of range.

Such rows are written here the way that version's append path wrote them (its validation let
year 1 through; the driver stores 0001-01-01T00:00:00Z as `-infinity` and the last microsecond of
9999 as `infinity`). The service must keep working: the projector passes them, every read
answers, nothing counts them, the feed shows them and the chain verification names them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service.events.envelope import CloudEvent, parse_event
from service.keys.api_keys import KeyStore, Scope
from service.store.database.engines import create_engine
from service.store.database.migrate import alembic_config, upgrade_to_head
from service.store.log.appender import EventAppender
from service.store.projection import checkpoints
from service.store.projection.projector import catch_up
from service.store.projection.read_model_writer import READ_MODELS
from service.store.projection.rebuild import rebuild
from tests.conftest import bearer
from tests.factories import ce, qualified, retraction, signed, sourced, visit

pytestmark = pytest.mark.integration

MINUS_INFINITY = datetime.min.replace(tzinfo=UTC)
PLUS_INFINITY = datetime.max.replace(tzinfo=UTC)
Q1 = {"from": "2026-01-01", "to": "2026-04-01"}


def out_of_range(raw: dict[str, Any], when: datetime) -> CloudEvent:
    """`raw` validated, then given a time out of range, as an earlier version accepted it."""
    event = parse_event(raw)
    return replace(event, time=when, original_time=when.isoformat())


async def write_as_earlier_version(engine: AsyncEngine, events: Sequence[CloudEvent]) -> None:
    """Append through the append path itself, which this version's validation now guards."""
    await EventAppender(engine).append(events, {"actor": "earlier-version", "key_id": "k"})


async def post(client: httpx.AsyncClient, token: str, *events: dict[str, Any]) -> None:
    response = await client.post("/v1/events", json=list(events), headers=bearer(token))
    assert response.status_code == 201, response.text


async def read(client: httpx.AsyncClient, token: str, path: str, **params: str) -> Any:
    response = await client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def poisoned(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str]
) -> dict[str, int]:
    """A log with in-range history and five events out of range; their positions by name."""
    engine = app.state.services.engine
    writer = tokens["events:write"]
    d2_qualified = qualified("D-2", "R-2", "2026-01-10T10:00:00Z", amount="700")
    await post(
        client,
        writer,
        sourced("D-1", "R-1", "2026-01-05T09:00:00Z"),
        sourced("D-2", "R-2", "2026-01-06T09:00:00Z"),
        d2_qualified,
        ce("rep.team_assigned", "rep:R-1", "2026-01-01T00:00:00Z", {"team_id": "North"}),
    )
    await write_as_earlier_version(
        engine,
        [
            out_of_range(visit("D-1", "R-1", "2026-01-07T00:00:00Z"), MINUS_INFINITY),
            out_of_range(
                signed("D-1", "R-1", "2026-01-08T00:00:00Z"), datetime(1850, 6, 1, tzinfo=UTC)
            ),
            out_of_range(sourced("D-3", "R-3", "2026-01-09T00:00:00Z"), PLUS_INFINITY),
            out_of_range(
                retraction("D-2", "R-2", "2026-01-11T00:00:00Z", d2_qualified), MINUS_INFINITY
            ),
            out_of_range(
                ce("rep.team_assigned", "rep:R-1", "2026-01-02T00:00:00Z", {"team_id": "South"}),
                MINUS_INFINITY,
            ),
        ],
    )
    # And then more events on the same deal, as the service went on being used
    await post(
        client,
        writer,
        qualified("D-1", "R-1", "2026-02-01T10:00:00Z", amount="500"),
        visit("D-1", "R-1", "2026-02-02T10:00:00Z", kind="FUA"),
    )
    return {"visit": 5, "signed": 6, "d3": 7, "retraction": 8, "team": 9}


async def test_the_rows_are_stored_as_an_earlier_version_stored_them(
    poisoned: dict[str, int], app: FastAPI
) -> None:
    async with app.state.services.engine.connect() as conn:
        stored = dict(
            (await conn.execute(text("SELECT position, occurred_at::text FROM events"))).all()
        )
    assert stored[poisoned["visit"]] == "-infinity"
    assert stored[poisoned["d3"]] == "infinity"
    assert stored[poisoned["signed"]].startswith("1850-06-01")


async def test_the_projector_passes_them_and_reads_answer_without_counting_them(
    poisoned: dict[str, int], app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    reader = tokens["read"]
    # The strong reads wait for the projector: it reached the head without an error
    board = await read(client, reader, "/v1/scoreboard", **Q1, group_by="rep")
    async with app.state.services.engine.connect() as conn:
        checkpoint = await checkpoints.load(conn, READ_MODELS)
    assert checkpoint.position == 11 and checkpoint.last_error is None
    # Neither the year-1 visit nor the 1850 signing counts; a retraction's time does not matter,
    # so the year-1 one still retracts D-2's qualification
    totals = board["totals"]
    assert totals["client_visits"] == 1 and totals["fua_visits"] == 1
    assert totals["closed_deals"] == 0 and totals["closed_value"] == {}
    assert totals["opportunities"] == 1 and totals["leads"] == 2
    by_team = await read(client, reader, "/v1/scoreboard", **Q1, group_by="team")
    assert {row["key"] for row in by_team["rows"]} == {"North", None}
    deal = await read(client, reader, "/v1/deals/D-1")
    assert deal["stage"] == "opportunity" and deal["fsi_visits"] == 0
    assert deal["first_event_at"].startswith("2026-01-05")
    assert (await client.get("/v1/deals/D-3", headers=bearer(reader))).status_code == 404
    assert (await read(client, reader, "/v1/deals/D-2"))["stage"] == "lead"
    events = await read(client, reader, "/v1/deals/D-1/events")
    assert [e["position"] for e in events["events"]] == [1, 10, 11]
    listed = await read(client, reader, "/v1/deals")
    assert {d["deal_id"] for d in listed["deals"]} == {"D-1", "D-2"}
    funnel = await read(client, reader, "/v1/funnel")
    assert funnel["stages"]["opportunity"] == 1 and funnel["stages"]["won"] == 0
    for path in ("/v1/exports/deals", "/v1/exports/facts"):
        response = await client.get(path, params=Q1, headers=bearer(reader))
        assert response.status_code == 200, response.text
        assert "1850" not in response.text and "0001-01-01" not in response.text
    for path in ("/v1/analytics/waterfall", "/v1/analytics/conversion", "/v1/targets"):
        assert (await client.get(path, params=Q1, headers=bearer(reader))).status_code == 200


async def test_the_feed_shows_them_as_stored(
    poisoned: dict[str, int], client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    feed = await read(client, tokens["read"], "/v1/events", limit="100")
    times = {e["position"]: e["time"] for e in feed["events"]}
    assert len(times) == 11
    assert times[poisoned["visit"]] == "0001-01-01T00:00:00+00:00"
    assert times[poisoned["d3"]] == "9999-12-31T23:59:59.999999+00:00"
    assert times[poisoned["signed"]] == "1850-06-01T00:00:00+00:00"


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


async def test_the_live_stream_sends_them_as_stored(
    poisoned: dict[str, int], base_url: str, tokens: dict[str, str]
) -> None:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(20), httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        headers = bearer(tokens["read"])
        async with http.stream("GET", "/v1/events/stream", headers=headers) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    frames.append(orjson.loads(line[6:]))
                if len(frames) == 11:
                    break
    assert frames[poisoned["visit"] - 1]["time"] == "0001-01-01T00:00:00+00:00"


async def test_the_audit_names_them_and_replays_without_them(
    poisoned: dict[str, int], client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    auditor = tokens["audit"]
    verified = await read(client, auditor, "/v1/audit/verify")
    assert verified["ok"] is True and verified["verified_through"] == 11
    assert verified["out_of_range"] == {"count": 5, "positions": [5, 6, 7, 8, 9]}
    replayed = await read(client, auditor, "/v1/audit/replay", **Q1)
    assert replayed["projection_matches"] is True
    assert replayed["totals"]["closed_deals"] == 0 and replayed["events_considered"] == 6
    export = await client.get("/v1/audit/export", params=Q1, headers=bearer(auditor))
    assert export.status_code == 200
    lines = [orjson.loads(line) for line in export.text.splitlines()]
    positions = {line["position"] for line in lines if "position" in line}
    assert positions == {1, 2, 3, 8, 10, 11}
    # The log of audit requests holds their answers and still lists
    assert (await read(client, auditor, "/v1/audit/requests"))["requests"]


async def test_the_cli_verification_names_them(poisoned: dict[str, int], database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "verify",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "5 events with a time out of range, never counted, at positions 5, 6, 7, 8, 9" in (
        out.decode().replace("\n", " ")
    )


async def test_a_rebuild_gives_the_read_models_the_projector_gave(
    poisoned: dict[str, int], app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    before = await read(client, tokens["read"], "/v1/scoreboard", **Q1, group_by="team")
    report = await rebuild(app.state.services.engine)
    assert report.position == 11
    after = await read(client, tokens["read"], "/v1/scoreboard", **Q1, group_by="team")
    assert {**after, "known_at": None} == {**before, "known_at": None}


async def test_stored_key_expiries_and_audit_periods_out_of_range_still_list(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    engine = app.state.services.engine
    forever = await KeyStore(engine).create("forever", frozenset({Scope.READ}), PLUS_INFINITY)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_requests (actor, endpoint, period_from, period_to, result, "
                "completed_at) VALUES ('earlier', '/v1/audit/export', '-infinity', "
                "'2026-01-01', '{}'::jsonb, now())"
            )
        )
    keys = await read(client, tokens["admin"], "/v1/admin/keys")
    mine = next(k for k in keys["keys"] if k["key_id"] == forever.key.key_id)
    assert mine["status"] == "active" and mine["expires_at"].startswith("9999-12-31")
    assert (await client.get("/v1/events", headers=bearer(forever.token))).status_code == 200
    logged = await read(client, tokens["audit"], "/v1/audit/requests")
    earlier = next(r for r in logged["requests"] if r["actor"] == "earlier")
    assert earlier["period"]["from"] == "0001-01-01T00:00:00+00:00"


def _downgrade_to_0010(connection: Connection) -> None:
    """Back to the read models' plain tables of revision 0010 (later revisions build on them)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0010")


async def test_the_migration_refolds_read_models_that_counted_them(test_server: Any) -> None:
    # Given a database at the previous revision whose projector counted a year-1 event
    url = await test_server.create_database()
    engine = create_engine(url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to_0010)
        await write_as_earlier_version(
            engine,
            [
                parse_event(sourced("D-1", "R-1", "2026-01-05T09:00:00Z")),
                out_of_range(sourced("D-9", "R-9", "2026-01-06T09:00:00Z"), MINUS_INFINITY),
            ],
        )
        async with engine.begin() as conn:
            # The flow facts as that revision's projector wrote them (today's writes a column
            # that revision did not have), and its checkpoint past them
            await conn.execute(
                text(
                    "INSERT INTO rm_flow_facts (position, deal_id, kind, rep_id, occurred_at, "
                    "recorded_at) SELECT position, subject, 'sourced', data->>'rep_id', "
                    "occurred_at, recorded_at FROM events"
                )
            )
            await checkpoints.advance(conn, READ_MODELS, 2)
            await conn.execute(
                text(
                    "INSERT INTO rm_deal_segments (deal_id, valid_from, valid_to, known_from, "
                    "known_to, stage, owner_rep_id) SELECT 'D-9', '-infinity', 'infinity', "
                    "recorded_at, 'infinity', 'lead', 'R-9' FROM events WHERE position = 2"
                )
            )
            await conn.execute(text("UPDATE alembic_version SET version_num = '0009'"))
        # When it is migrated
        await upgrade_to_head(engine)
        # Then the read models start again from position 0, and the projector refolds them
        async with engine.connect() as conn:
            assert (await checkpoints.load(conn, READ_MODELS)).position == 0
        await catch_up(engine, 100)
        async with engine.connect() as conn:
            deals = (
                await conn.execute(text("SELECT DISTINCT deal_id FROM rm_deal_segments"))
            ).scalars()
            assert set(deals) == {"D-1"}
            counted = (
                await conn.execute(text("SELECT deal_id FROM reporting.flow_facts"))
            ).scalars()
            assert set(counted) == {"D-1"}
    finally:
        await engine.dispose()
        await test_server.drop_database(url)

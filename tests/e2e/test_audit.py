"""`/v1/audit` over HTTP: replay, export checked by the stand-alone verifier, verify, request log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.api.app import create_app
from service.api.schemas.audit import AuditRequestPage, ReplayModel, VerifyModel
from service.audit import replay as replay_module
from service.events.recorded import RecordedEvent
from service.keys.api_keys import Scope
from service.projections import compute_scoreboard
from service.projections.scoreboard import settled_before
from service.store.database.engines import create_engine
from service.store.log import period_events as period_events_module
from tests import databases
from tests.conftest import bearer, make_settings
from tests.e2e.served import Served, serve
from tests.factories import ce, qualified, retraction, signed, sourced, visit
from tests.histories import PERIODS, Delivery, deliveries, known_ats, recorded_from_feed

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
Q1 = {"period": "2026-Q1"}
NUMBER_FIELDS = (
    "closed_deals",
    "committed_deals",
    "opportunities",
    "leads",
    "client_visits",
    "fsi_visits",
    "fua_visits",
    "calls",
    "connected_calls",
    "talk_time_s",
    "closed_value",
    "open",
)
PROPERTY = settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def quarter_history() -> list[dict[str, Any]]:
    """A quarter with history before it, events after it, a retraction, a reassignment, teams."""
    early_visit = visit("D-1", "R-1", "2026-01-06T10:00:00+08:00")
    late_signing = signed("D-3", "R-2", "2026-04-02T10:00:00Z", amount="99.00")
    return [
        ce("rep.team_assigned", "rep:R-1", "2025-12-01T00:00:00Z", {"team_id": "North"}),
        sourced("D-1", "R-1", "2025-12-15T10:00:00Z"),
        early_visit,
        qualified("D-1", "R-1", "2026-02-01T10:00:00Z"),
        ce("deal.committee_approved", "D-1", "2026-02-20T10:00:00Z", {"rep_id": "R-1"}),
        signed("D-1", "R-1", "2026-03-20T10:00:00Z", amount="500.00"),
        sourced("D-2", "R-2", "2026-02-05T10:00:00Z"),
        visit("D-2", "R-2", "2026-02-06T10:00:00Z", kind="FUA"),
        ce("deal.reassigned", "D-2", "2026-03-01T10:00:00Z", {"rep_id": "R-2", "to_rep_id": "R-3"}),
        sourced("D-3", "R-2", "2026-01-10T10:00:00Z"),
        qualified("D-3", "R-2", "2026-01-11T10:00:00Z", amount="80.00"),
        late_signing,
        retraction("D-1", "R-1", "2026-03-21T10:00:00Z", early_visit),
        retraction("D-3", "R-2", "2026-04-03T10:00:00Z", late_signing),
        visit("D-4", "R-3", "2026-03-31T15:59:59.999999Z", traceid="t-1"),
    ]


async def post_all(client: httpx.AsyncClient, token: str, events: list[dict[str, Any]]) -> None:
    response = await client.post(
        "/v1/events",
        content=orjson.dumps(events),
        headers={**bearer(token), "Content-Type": "application/cloudevents-batch+json"},
    )
    assert response.status_code in (200, 201), response.text


async def get_json(
    client: httpx.AsyncClient, path: str, token: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def feed(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    """The whole log through `GET /v1/events`."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await get_json(client, "/v1/events", token, after=after, limit=1000)
        items += page["events"]
        if page["next_after"] == after:
            return items
        after = page["next_after"]


def numbers(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in NUMBER_FIELDS} | (
        {"key": row["key"]} if "key" in row else {}
    )


def selected(log: list[dict[str, Any]], end: datetime, known_at: datetime) -> list[dict[str, Any]]:
    """The events that decide a period, chosen independently of the service (docs/audit.md)."""
    known = [e for e in log if datetime.fromisoformat(e["recorded_at"]) <= known_at]
    deal_events = {
        (e["source"], e["id"])
        for e in known
        if not e["subject"].startswith(("rep:", "team:", "account:", "calendar:"))
        and e["type"] != "event.retracted"
        and datetime.fromisoformat(e["time"]) < end
    }
    return [
        e
        for e in known
        if (e["source"], e["id"]) in deal_events
        or (
            e["type"] == "event.retracted"
            and (e["data"]["event_source"], e["data"]["event_id"]) in deal_events
        )
    ]


def digest_of(events: list[dict[str, Any]]) -> str:
    return hashlib.sha256(b"".join(bytes.fromhex(e["hash"]) for e in events)).hexdigest()


async def run(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path = ROOT
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


ROUTES: tuple[tuple[str, dict[str, str]], ...] = (
    ("/v1/audit/verify", {}),
    ("/v1/audit/replay", Q1),
    ("/v1/audit/export", Q1),
    ("/v1/audit/requests", {}),
)


@pytest.mark.parametrize(("path", "params"), ROUTES)
async def test_audit_routes_need_the_audit_scope(client, tokens, path, params):
    assert (await client.get(path, params=params)).status_code == 401
    bad = await client.get(path, params=params, headers=bearer("fl_0_0"))
    assert bad.status_code == 401
    for scope in ("read", "events:write"):
        response = await client.get(path, params=params, headers=bearer(tokens[scope]))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["required_scope"] == "audit"
    for scope in ("audit", "admin"):
        response = await client.get(path, params=params, headers=bearer(tokens[scope]))
        assert response.status_code == 200


async def test_replay_of_a_quarter(client, tokens):
    await post_all(client, tokens["events:write"], quarter_history())
    audit = tokens["audit"]
    body = await get_json(client, "/v1/audit/replay", audit, **Q1)
    ReplayModel.model_validate(body)
    assert (body["from"], body["to"], body["period"]) == (
        "2026-01-01T00:00:00+00:00",
        "2026-04-01T00:00:00+00:00",
        "2026-Q1",
    )
    # Out: the team event, D-3's signing after the quarter and its retraction. In: the other
    # eleven deal events (D-1's from before the quarter too) and the retraction of D-1's visit.
    assert (body["events_considered"], body["retractions"]) == (12, 1)
    assert body["events_folded"] == 12  # no deal was settled before the quarter
    assert body["projection_matches"] is True and body["differences"] == []
    rows = {row["key"]: row for row in body["rows"]}
    assert rows["R-1"]["closed_value"] == {"TWD": "500.00"}
    assert rows["R-1"]["fsi_visits"] == 0
    assert rows["R-3"]["open"] == {"leads": 1, "opportunities": 0, "committed_deals": 0}
    assert body["totals"]["open"] == {"leads": 1, "opportunities": 1, "committed_deals": 0}
    board = await get_json(
        client, "/v1/scoreboard", tokens["read"], known_at=body["known_at"], **Q1
    )
    assert [numbers(r) for r in board["rows"]] == [numbers(r) for r in body["rows"]]
    assert numbers(board["totals"]) == numbers(body["totals"])
    log = await feed(client, tokens["read"])
    chosen = selected(
        log, datetime(2026, 4, 1, tzinfo=UTC), datetime.fromisoformat(body["known_at"])
    )
    assert body["digest"] == digest_of(chosen)
    # The same question at the same known_at, asked again later, gets the same answer.
    await post_all(client, tokens["events:write"], [visit("D-9", "R-9", "2026-02-02T10:00:00Z")])
    again = await get_json(client, "/v1/audit/replay", audit, known_at=body["known_at"], **Q1)
    assert (again["digest"], again["totals"]) == (body["digest"], body["totals"])
    later = await get_json(client, "/v1/audit/replay", audit, **Q1)
    assert later["events_considered"] == body["events_considered"] + 1


async def test_a_replay_folds_no_deal_settled_before_the_quarter(client, tokens):
    # Given deals signed, lost and disqualified in 2025, two of them lost and re-qualified,
    # one lost after a committee approval sent late, and the quarter's own history
    history = [
        *quarter_history(),
        sourced("D-10", "R-1", "2025-10-01T10:00:00Z"),
        signed("D-10", "R-1", "2025-11-01T10:00:00Z", amount="70.00"),
        sourced("D-11", "R-2", "2025-10-02T10:00:00Z"),
        ce("deal.lost", "D-11", "2025-11-02T10:00:00Z", {"rep_id": "R-2", "reason": "price"}),
        qualified("D-11", "R-2", "2025-12-02T10:00:00Z"),
        sourced("D-12", "R-2", "2025-10-03T10:00:00Z"),
        ce("deal.lost", "D-12", "2025-11-03T10:00:00Z", {"rep_id": "R-2", "reason": "price"}),
        ce("deal.committee_approved", "D-12", "2025-11-01T10:00:00Z", {"rep_id": "R-2"}),
        sourced("D-13", "R-3", "2025-10-04T10:00:00Z"),
        ce("deal.disqualified", "D-13", "2025-10-05T10:00:00Z", {"rep_id": "R-3", "reason": "x"}),
        visit("D-13", "R-3", "2025-10-06T10:00:00Z"),
        # lost and re-qualified at the same instant: the log's order decides, so not settled
        sourced("D-14", "R-3", "2025-10-07T10:00:00Z"),
        ce("deal.lost", "D-14", "2025-11-07T10:00:00Z", {"rep_id": "R-3", "reason": "price"}),
        qualified("D-14", "R-3", "2025-11-07T10:00:00Z"),
    ]
    await post_all(client, tokens["events:write"], history)
    # When the quarter is replayed
    body = await get_json(client, "/v1/audit/replay", tokens["audit"], **Q1)
    # Then every event is considered (and in the digest) but the settled deals' (D-10, D-12,
    # D-13: eight events) are not folded, and the answer is the read models' all the same
    assert body["events_considered"] == 12 + 14
    assert body["events_folded"] == 12 + 3 + 3  # D-11 and D-14 are not settled
    assert body["projection_matches"] is True, body["differences"]
    assert body["totals"]["open"] == {"leads": 1, "opportunities": 3, "committed_deals": 0}
    log = await feed(client, tokens["read"])
    known_at = datetime.fromisoformat(body["known_at"])
    assert body["digest"] == digest_of(selected(log, datetime(2026, 4, 1, tzinfo=UTC), known_at))


async def test_replay_names_the_rows_where_read_models_differ(app, client, tokens):
    await post_all(client, tokens["events:write"], quarter_history())
    await get_json(client, "/v1/audit/replay", tokens["audit"], **Q1)  # projected by now
    # Given a read model that lost R-1's signing (the events are untouched)
    async with app.state.services.engine.begin() as conn:
        await conn.execute(text("DELETE FROM rm_flow_facts WHERE kind = 'signed'"))
    body = await get_json(client, "/v1/audit/replay", tokens["audit"], **Q1)
    ReplayModel.model_validate(body)
    assert body["projection_matches"] is False
    differences = {(d["scope"], d["key"]): d for d in body["differences"]}
    assert set(differences) == {("row", "R-1"), ("totals", None)}
    row = differences[("row", "R-1")]
    assert row["fields"] == ["closed_deals", "closed_value.TWD"]
    assert (row["replay"]["closed_deals"], row["projection"]["closed_deals"]) == (1, 0)
    assert row["replay"]["closed_value"] == {"TWD": "500.00"}


async def test_replay_refuses_an_ambiguous_period(client, tokens):
    response = await client.get(
        "/v1/audit/replay",
        params={"period": "2026-Q1", "from": "2026-01-01"},
        headers=bearer(tokens["audit"]),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@PROPERTY
@given(delivery=deliveries(), data=st.data())
async def test_replay_agrees_with_the_read_models_and_the_fold(
    test_server: databases.TestServer, delivery: Delivery, data: st.DataObject
) -> None:
    # Given a fresh service holding a history delivered shuffled, in batches, with duplicates
    url = await test_server.create_database()
    app = create_app(make_settings(url))
    try:
        async with app.router.lifespan_context(app):
            keys = app.state.services.keys
            writer = (await keys.create("w", frozenset({Scope.EVENTS_WRITE}))).token
            auditor = (await keys.create("a", frozenset({Scope.AUDIT, Scope.READ}))).token
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                for batch in delivery:
                    await post_all(client, writer, list(batch))
                log = await feed(client, auditor)
                events = [recorded_from_feed(item) for item in log]
                moments = known_ats(events)
                # When a period is replayed at several moments of knowledge
                # (folding a few events at a time, so that batches of whole streams are cut,
                # reading a few streams and digesting a few log positions at a time)
                fold_events = data.draw(st.integers(1, 8))
                streams = data.draw(st.integers(1, 3))
                positions = data.draw(st.integers(1, 8))
                with (
                    patch.object(replay_module, "FOLD_EVENTS", fold_events),
                    patch.object(period_events_module, "STREAMS_PER_READ", streams),
                    patch.object(period_events_module, "DIGEST_POSITIONS", positions),
                ):
                    for known_at in data.draw(
                        st.lists(st.sampled_from(moments), min_size=1, max_size=4, unique=True)
                    ):
                        start, end = data.draw(st.sampled_from(PERIODS))
                        await _assert_replay(client, auditor, log, events, start, end, known_at)
    finally:
        await test_server.drop_database(url)


async def _assert_replay(
    client: httpx.AsyncClient,
    token: str,
    log: list[dict[str, Any]],
    events: list[RecordedEvent],
    start: datetime,
    end: datetime,
    known_at: datetime,
) -> None:
    params = {"from": start.isoformat(), "to": end.isoformat(), "known_at": known_at.isoformat()}
    body = await get_json(client, "/v1/audit/replay", token, **params)
    # Then it equals the read models, the pure fold over the whole log, and the events chosen
    assert body["projection_matches"] is True, body["differences"]
    folded = compute_scoreboard(events, start=start, end=end, known_at=known_at, group_by="rep")
    expected = folded.to_json()
    assert body["rows"] == expected["rows"]
    assert body["totals"] == expected["totals"]
    board = await get_json(client, "/v1/scoreboard", token, group_by="rep", **params)
    assert (board["rows"], board["totals"]) == (body["rows"], body["totals"])
    chosen = selected(log, end, known_at)
    assert body["events_considered"] == len(chosen)
    assert body["digest"] == digest_of(chosen)
    # And it folded the streams of the selection the pure rule does not find settled
    streams: dict[str, list[RecordedEvent]] = {}
    for item in chosen:
        streams.setdefault(item["subject"], []).append(recorded_from_feed(item))
    unsettled = [s for s in streams.values() if not settled_before(s, start)]
    assert body["events_folded"] == sum(len(stream) for stream in unsettled)


async def test_an_export_is_reproduced_by_the_standalone_verifier(client, tokens, tmp_path):
    # Given a quarter of events and its replay
    await post_all(client, tokens["events:write"], quarter_history())
    audit = tokens["audit"]
    replayed = await get_json(client, "/v1/audit/replay", audit, **Q1)
    # When it is exported at the replay's known_at and checked by the tool in its own process,
    # with no site-packages at all (-I -S): the standard library only
    response = await client.get(
        "/v1/audit/export",
        params={**Q1, "known_at": replayed["known_at"]},
        headers=bearer(audit),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    export = tmp_path / "q1.ndjson"
    export.write_bytes(response.content)
    code, out, err = await run(
        sys.executable, "-I", "-S", str(ROOT / "tools" / "verify_export.py"), str(export)
    )
    # Then it verifies every hash and link it can, and gets the service's digest and numbers
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] is True and report["problems"] == []
    assert report["digest"] == replayed["digest"]
    assert report["events"] == replayed["events_considered"]
    assert report["chain"]["links_checked"] > 0
    assert report["rows"] == [numbers(row) for row in replayed["rows"]]
    assert report["totals"] == numbers(replayed["totals"])


async def test_the_export_format(client, tokens):
    await post_all(client, tokens["events:write"], quarter_history())
    response = await client.get("/v1/audit/export", params=Q1, headers=bearer(tokens["audit"]))
    lines = [json.loads(line) for line in response.text.splitlines()]
    header, events, trailer = lines[0], lines[1:-1], lines[-1]
    assert header["kind"] == "header" and header["format"] == "funnel-ledger-export/1"
    assert header["period"] == {
        "from": "2026-01-01T00:00:00+00:00",
        "to": "2026-04-01T00:00:00+00:00",
        "label": "2026-Q1",
    }
    assert header["timezone"] == "UTC"
    assert {e["kind"] for e in events} == {"event"}
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert all(not e["subject"].startswith(("rep:", "team:", "calendar:")) for e in events)
    first = events[0]
    assert set(first) == {"kind", *header["record_fields"], "hash"}
    log = await feed(client, tokens["read"])
    assert (first["position"], first["prev"]) == (2, log[0]["hash"])
    assert first["metadata"]["actor"] == "test-events:write"
    assert trailer["kind"] == "trailer"
    assert trailer["events"] == len(events) == 12
    assert trailer["digest"] == digest_of(events)
    assert 'filename="funnel-ledger-2026-Q1.ndjson"' in response.headers["content-disposition"]


async def test_the_verifier_rejects_a_doctored_export(client, tokens, tmp_path):
    await post_all(client, tokens["events:write"], quarter_history())
    response = await client.get("/v1/audit/export", params=Q1, headers=bearer(tokens["audit"]))
    lines = response.text.splitlines()
    doctored = json.loads(lines[5])
    doctored["data"]["rep_id"] = "R-99"
    lines[5] = json.dumps(doctored)
    export = tmp_path / "doctored.ndjson"
    export.write_text("\n".join(lines) + "\n")
    code, out, _ = await run(sys.executable, "-I", "-S", "tools/verify_export.py", str(export))
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["problems"] == [
        f"position {doctored['position']}: hash_mismatch (the record does not hash to it)"
    ]


async def test_verify_names_the_first_tampered_position(app, client, tokens):
    await post_all(client, tokens["events:write"], quarter_history())
    intact = await get_json(client, "/v1/audit/verify", tokens["audit"])
    VerifyModel.model_validate(intact)
    assert intact["ok"] is True and intact["first_break"] is None
    assert intact["head_position"] == intact["verified_through"] == 15
    # Given a visit changed from FUA to FSI behind the service's back
    async with app.state.services.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        await conn.execute(
            text("UPDATE events SET data = jsonb_set(data, '{kind}', '\"FSI\"') WHERE position = 8")
        )
        await conn.execute(text("ALTER TABLE events ENABLE TRIGGER USER"))
    body = await get_json(client, "/v1/audit/verify", tokens["audit"])
    VerifyModel.model_validate(body)
    assert body["ok"] is False and body["head_hash"] is None
    assert body["first_break"]["position"] == 8
    assert body["first_break"]["reason"] == "hash_mismatch"
    # An anchor kept from the intact check still shows the rewrite
    anchored = await get_json(
        client,
        "/v1/audit/verify",
        tokens["audit"],
        anchor_position=15,
        anchor_hash=intact["head_hash"],
    )
    assert anchored["first_break"]["position"] == 8
    half = await client.get(
        "/v1/audit/verify", params={"anchor_position": 3}, headers=bearer(tokens["audit"])
    )
    assert half.status_code == 422


async def test_every_audit_request_is_logged(app, client, tokens):
    await post_all(client, tokens["events:write"], quarter_history())
    audit = tokens["audit"]
    replayed = await get_json(client, "/v1/audit/replay", audit, **Q1)
    exported = await client.get("/v1/audit/export", params=Q1, headers=bearer(audit))
    trailer = json.loads(exported.text.splitlines()[-1])
    verified = await get_json(client, "/v1/audit/verify", audit)
    page = await get_json(client, "/v1/audit/requests", audit)
    AuditRequestPage.model_validate(page)
    logged = page["requests"]
    assert [r["endpoint"] for r in logged] == [
        "/v1/audit/verify",
        "/v1/audit/export",
        "/v1/audit/replay",
    ]
    key_id = audit.split("_")[1]
    assert {r["key_id"] for r in logged} == {key_id}
    verify_entry, export_entry, replay_entry = logged
    assert replay_entry["digest"] == replayed["digest"]
    assert replay_entry["known_at"] == replayed["known_at"]
    assert replay_entry["period"] == {"from": replayed["from"], "to": replayed["to"]}
    assert replay_entry["result"]["projection_matches"] is True
    assert export_entry["digest"] == trailer["digest"] and export_entry["completed_at"]
    assert verify_entry["digest"] == verified["head_hash"]
    # The listing itself is logged too, and the log cannot be rewritten
    newest = await get_json(client, "/v1/audit/requests", audit, limit=1)
    assert newest["requests"][0]["endpoint"] == "/v1/audit/requests"
    assert newest["next_before"] == newest["requests"][0]["id"]
    with pytest.raises(DBAPIError, match="append-only"):
        async with app.state.services.engine.begin() as conn:
            await conn.execute(text("UPDATE audit_requests SET digest = 'x'"))


async def test_the_cli_replays_and_verifies_with_the_same_code(app, client, tokens, database_url):
    await post_all(client, tokens["events:write"], quarter_history())
    replayed = await get_json(client, "/v1/audit/replay", tokens["audit"], **Q1)
    env = {**os.environ, "DATABASE_URL": database_url}
    code, out, err = await run(
        sys.executable,
        "-m",
        "service",
        "replay",
        "--period",
        "2026-Q1",
        "--known-at",
        replayed["known_at"],
        "--json",
        env=env,
    )
    assert code == 0, err
    assert json.loads(out) == replayed
    code, out, err = await run(
        sys.executable, "-m", "service", "replay", "--period", "2026-Q1", env=env
    )
    assert code == 0, err
    assert replayed["digest"] in out and "R-1" in out
    code, out, err = await run(sys.executable, "-m", "service", "verify", "--json", env=env)
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            endpoints = (await conn.execute(text("SELECT endpoint FROM audit_requests"))).scalars()
            assert {"cli:replay", "cli:verify"} <= set(endpoints)
    finally:
        await engine.dispose()


@pytest.fixture
async def real_server(database_url: str) -> AsyncIterator[Served]:
    """A real `funnel-ledger serve` process on a fresh database."""
    async with serve(database_url) as served:
        yield served


def documented_steps() -> str:
    """The shell blocks of docs/audit.md's steps 3 to 6 (replay, export, verify, compare)."""
    text = (ROOT / "docs" / "audit.md").read_text()
    steps = text[text.index("3. **Replay the quarter**") : text.index("7. **Later**")]
    blocks = re.findall(r"```sh\n(.*?)```", steps, re.DOTALL)
    assert len(blocks) == 4, "docs/audit.md lost a step"
    return "\n".join(textwrap.dedent(block) for block in blocks)


async def test_the_documented_steps_reproduce_a_quarter(real_server, tmp_path):
    # Given a real server holding a quarter, and an auditor's copy of the tool
    base, admin = real_server.base, real_server.admin_key
    async with httpx.AsyncClient(base_url=base) as http:
        await post_all(http, admin, quarter_history())
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "verify_export.py", tmp_path / "tools")
    # When the auditor runs docs/audit.md's steps with bash, curl, python3 and jq
    env = {**os.environ, "FUNNEL_URL": base, "AUTH": f"Authorization: Bearer {admin}"}
    code, out, err = await run(
        "bash", "-euo", "pipefail", "-c", documented_steps(), env=env, cwd=tmp_path
    )
    # Then the quarter is reproduced
    assert code == 0, out + err
    assert out.strip().endswith("quarter reproduced"), out

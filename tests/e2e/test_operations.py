"""Operations: readiness with the projector, Prometheus metrics, request ids and JSON logs."""

from __future__ import annotations

import asyncio
import logging
import re

import orjson
import pytest

from service.logs import JsonFormatter, RequestIdFilter, redact
from tests.conftest import bearer
from tests.factories import sourced, visit

pytestmark = pytest.mark.e2e


async def test_readiness_reports_the_database_and_the_projector(client, tokens):
    event = sourced("D-1", "R-1", "2026-01-05T00:00:00Z")
    await client.post("/v1/events", json=event, headers=bearer(tokens["events:write"]))
    await client.get("/v1/funnel", headers=bearer(tokens["read"]))  # waits for the projector
    body = (await client.get("/readyz", headers=bearer(tokens["metrics"]))).json()
    assert body["status"] == "ok" and body["database"] == "up"
    projector = body["projector"]
    assert (projector["checkpoint"], projector["head"], projector["lag"]) == (1, 1, 0)
    assert projector["leader"] is True and projector["running_here"] is True
    assert projector["last_error"] is None


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name} {labels} not in metrics"
    return float(match[1])


async def test_metrics_count_ingestion_rejections_lag_and_latency(client, tokens):
    writer = bearer(tokens["events:write"])
    # Given two new events, one duplicate, one invalid batch and one unauthenticated append
    batch = [
        sourced("D-1", "R-1", "2026-01-05T00:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T00:00:00Z"),
    ]
    await client.post("/v1/events", json=batch, headers=writer)
    await client.post("/v1/events", json=batch[0], headers=writer)
    await client.post("/v1/events", json={"specversion": "1.0"}, headers=writer)
    await client.post("/v1/events", json=batch[0])

    # When Prometheus scrapes, with its key
    response = await client.get("/metrics", headers=bearer(tokens["metrics"]))

    # Then it reads what happened
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert _sample(text, "funnel_events_ingested_total", type="lead.sourced") == 1
    assert _sample(text, "funnel_events_ingested_total", type="visit.completed") == 1
    assert _sample(text, "funnel_events_rejected_total", reason="invalid-events") == 1
    assert _sample(text, "funnel_events_rejected_total", reason="unauthenticated") == 1
    assert _sample(text, "funnel_log_head_position") == 2
    assert _sample(text, "funnel_projector_lag_events") >= 0
    assert _sample(text, "funnel_projector_leader") == 1
    count = _sample(
        text,
        "funnel_http_request_duration_seconds_count",
        method="POST",
        route="/v1/events",
        status="201",
    )
    assert count == 1


async def test_request_ids_go_in_and_out(client):
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    generated = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    again = await client.get("/healthz")
    assert again.headers["x-request-id"] != generated.headers["x-request-id"]
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


async def test_access_logs_are_json_with_the_request_id_and_no_secret(client, tokens, caplog):
    token = tokens["read"]
    formatter = JsonFormatter()
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        await client.get("/v1/funnel", headers={**bearer(token), "X-Request-ID": "req-7"})
        await client.get("/v1/funnel", headers={"Authorization": f"Bearer {token}x"})
    lines = [formatter.format(record) for record in caplog.records]
    access = [orjson.loads(line) for line in lines if '"funnel_ledger.access"' in line]
    first = next(entry for entry in access if entry["request_id"] == "req-7")
    assert (first["method"], first["route"], first["status"]) == ("GET", "/v1/funnel", 200)
    assert first["level"] == "INFO" and first["duration_ms"] >= 0
    assert all(token not in line for line in lines)


def test_redaction_masks_keys_bearer_tokens_and_secrets():
    text = 'Authorization: Bearer fl_0a1b_2c3d secret=s3cr3t "password": "hunter2" key fl_ab12_cd34'
    masked = redact(text)
    for secret in ("fl_0a1b_2c3d", "s3cr3t", "hunter2", "fl_ab12_cd34"):
        assert secret not in masked


async def test_readiness_reports_the_in_memory_read_models(client, tokens):
    # Given the copy loaded at start-up (an empty log) and one event since
    detail = bearer(tokens["metrics"])
    for _ in range(600):
        if not (await client.get("/readyz", headers=detail)).json()["read_mirror"]["loading"]:
            break
        await asyncio.sleep(0.05)
    event = sourced("D-1", "R-1", "2026-01-05T00:00:00Z")
    await client.post("/v1/events", json=event, headers=bearer(tokens["events:write"]))
    # When a funnel is asked (it brings the copy to its snapshot's position)
    await client.get("/v1/funnel", headers=bearer(tokens["read"]))
    # Then readiness states the position the copy reflects, and no load under way
    mirror = (await client.get("/readyz", headers=detail)).json()["read_mirror"]
    assert mirror == {"position": 1, "loading": False, "warm": True, "full_loads": 1}

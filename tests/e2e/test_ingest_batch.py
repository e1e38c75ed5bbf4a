"""POST /v1/events/batch through HTTP: a batch with one media type, as `POST /v1/events` takes it.

The route exists for generated clients (one media type gives them one typed function); its
semantics, limits, idempotency and answers are those of a batch sent to `POST /v1/events`.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import bearer
from tests.e2e.test_ingest import BATCH, feed, post
from tests.factories import ce, sourced, visit

pytestmark = pytest.mark.e2e

ROUTE = "/v1/events/batch"


async def post_batch(
    client: httpx.AsyncClient, token: str, body: object, content_type: str = BATCH
) -> httpx.Response:
    return await client.post(
        ROUTE,
        content=orjson.dumps(body),
        headers={**bearer(token), "Content-Type": content_type},
    )


def _batch() -> list[dict[str, Any]]:
    return [
        sourced("D-1", "R-1", "2026-01-05T10:00:00Z"),
        visit("D-1", "R-1", "2026-01-06T10:00:00Z"),
    ]


async def test_a_batch_is_created_then_a_retry_is_duplicate(client, tokens):
    batch = _batch()
    first = await post_batch(client, tokens["events:write"], batch)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "results": [
            {
                "source": "crm",
                "id": event["id"],
                "status": "created",
                "position": n,
                "stream_version": n,
            }
            for n, event in enumerate(batch, start=1)
        ]
    }
    second = await post_batch(client, tokens["events:write"], batch)
    assert second.status_code == 200
    assert [r["status"] for r in second.json()["results"]] == ["duplicate", "duplicate"]
    assert [r["position"] for r in second.json()["results"]] == [1, 2]
    stored = await feed(client, tokens["read"])
    assert [(e["id"], e["type"]) for e in stored] == [(e["id"], e["type"]) for e in batch]


async def test_a_batch_sent_to_either_route_is_one_batch(client, tokens):
    batch = _batch()
    assert (await post(client, tokens["events:write"], batch)).status_code == 201
    again = await post_batch(client, tokens["events:write"], batch)
    assert again.status_code == 200
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert len(await feed(client, tokens["read"])) == 2


async def test_a_bad_item_is_422_naming_its_index_and_field_and_stores_nothing(client, tokens):
    good = sourced("D-1", "R-1", "2026-01-05T10:00:00Z")
    bad = ce("deal.qualified", "D-1", "2026-01-06T10:00:00Z", {"rep_id": "R-1", "amount": "12"})
    response = await post_batch(client, tokens["events:write"], [good, good, bad])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert {e["index"] for e in problem["errors"]} == {2}
    assert "/data/currency" in [e["pointer"] for e in problem["errors"]]
    assert await feed(client, tokens["read"]) == []


async def test_over_the_limits_is_413_and_stores_nothing(client, tokens):
    too_many = [visit("D-1", "R-1", "2026-01-06T10:00:00Z") for _ in range(1001)]
    response = await post_batch(client, tokens["events:write"], too_many)
    assert response.status_code == 413
    assert response.json()["limit_events"] == 1000
    huge = sourced("D-1", "R-1", "2026-01-05T10:00:00Z")
    huge["data"]["account"]["industry"] = "x" * (1024 * 1024)
    response = await post_batch(client, tokens["events:write"], [huge])
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await feed(client, tokens["read"]) == []


async def test_one_media_type_and_an_array_only(client, tokens):
    token = tokens["events:write"]
    for other in ("application/cloudevents+json", "application/json", "text/plain"):
        response = await post_batch(client, token, _batch(), other)
        assert response.status_code == 415, other
        assert response.headers["content-type"] == "application/problem+json"
    response = await post_batch(client, token, _batch()[0])
    assert response.status_code == 400
    assert "array" in response.json()["detail"]
    empty = await post_batch(client, token, [])
    assert empty.status_code == 422
    assert empty.json()["type"].endswith("empty-batch")
    assert await feed(client, tokens["read"]) == []


async def test_only_a_key_that_may_write_events_appends(client, tokens):
    response = await client.post(
        ROUTE, content=orjson.dumps(_batch()), headers={"Content-Type": BATCH}
    )
    assert response.status_code == 401
    for scope in ("read", "audit", "metrics"):
        response = await post_batch(client, tokens[scope], _batch())
        assert response.status_code == 403, scope
    assert await feed(client, tokens["read"]) == []
    assert (await post_batch(client, tokens["admin"], _batch())).status_code == 201

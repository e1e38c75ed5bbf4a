"""Standard Webhooks carrying CloudEvents: signatures, rotation, tolerance, replays, sources."""

from __future__ import annotations

import time

import pytest

from tests.factories import signed, sourced
from tests.webhooks import (
    ERP_SECRET_OLD,
    dumps,
    events_of,
    inbox_of,
    standard_headers,
)

pytestmark = pytest.mark.e2e

URL = "/webhooks/standard/erp"


def batch() -> bytes:
    return dumps(
        [
            sourced("D-9", "R-03", "2026-03-01T09:00:00Z", id="erp-1", source="erp"),
            signed("D-9", "R-03", "2026-03-20T09:00:00Z", id="erp-2", source="erp"),
        ]
    )


async def test_signed_cloud_events_are_stored(client, tokens):
    body = batch()
    response = await client.post(URL, content=body, headers=standard_headers("msg_1", body))
    assert response.status_code == 201, response.text
    made = await events_of(client, tokens["read"])
    assert [(e["source"], e["id"], e["type"]) for e in made] == [
        ("erp", "erp-1", "lead.sourced"),
        ("erp", "erp-2", "deal.contract_signed"),
    ]


async def test_any_configured_secret_verifies_during_rotation(client, tokens):
    body = batch()
    old = standard_headers("msg_2", body, secret=ERP_SECRET_OLD)
    assert (await client.post(URL, content=body, headers=old)).status_code == 201
    # Several signatures in one header: one unknown, one current
    both = standard_headers("msg_3", body)
    both["webhook-signature"] = "v1,bm90LWEtc2lnbmF0dXJl " + both["webhook-signature"]
    assert (await client.post(URL, content=body, headers=both)).status_code == 200


async def test_bad_signature_expired_timestamp_and_replay(client, tokens):
    body = batch()
    forged = standard_headers("msg_4", body, secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ==")
    expired = standard_headers("msg_5", body, sent=int(time.time()) - 600)
    unsigned = {"Content-Type": "application/json", "webhook-id": "msg_6"}
    for headers, slug in (
        (forged, "webhook-unauthenticated"),
        (expired, "webhook-expired"),
        (unsigned, "webhook-unauthenticated"),
    ):
        response = await client.post(URL, content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["type"].endswith(slug)
    assert await events_of(client, tokens["read"]) == []
    fresh = standard_headers("msg_7", body)
    first = await client.post(URL, content=body, headers=fresh)
    replayed = await client.post(URL, content=body, headers=fresh)
    assert (first.status_code, replayed.status_code) == (201, 200)
    assert len(await events_of(client, tokens["read"])) == 2


async def test_foreign_sources_and_invalid_events_are_refused(client, tokens):
    body = dumps(
        [
            sourced("D-9", "R-03", "2026-03-01T09:00:00Z", id="x-1", source="crm"),
            sourced("D-9", "R-03", "2026-03-01T09:00:00", id="erp-9", source="erp"),
        ]
    )
    response = await client.post(URL, content=body, headers=standard_headers("msg_8", body))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors[0] == {
        "index": 0,
        "pointer": "/source",
        "detail": "sender 'erp' may not use source 'crm'",
    }
    assert (errors[1]["index"], errors[1]["pointer"]) == (1, "/time")
    assert await events_of(client, tokens["read"]) == []
    assert await inbox_of(client, tokens["admin"]) == []


async def test_unknown_sender_is_404_and_oversized_body_is_413(client):
    body = batch()
    unknown = await client.post(
        "/webhooks/standard/nobody", content=body, headers=standard_headers("m", body)
    )
    assert unknown.status_code == 404
    huge = b"[" + b" " * (1024 * 1024 + 1) + b"]"
    response = await client.post(URL, content=huge, headers=standard_headers("msg_9", huge))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

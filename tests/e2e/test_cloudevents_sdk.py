"""Events written by the CloudEvents Python SDK are taken in structured, binary and batch mode.

The SDK writes the HTTP messages (headers and body) itself; the test only sends them. The SDK
has no batch writer: a batch is the array of its JSON format's events, as the spec defines it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.conftest import bearer

pytestmark = pytest.mark.e2e

BATCH = "application/cloudevents-batch+json"


def _event(event_id: str, event_type: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        attributes={
            "id": event_id,
            "source": "sdk",
            "type": event_type,
            "subject": "D-SDK",
            "time": datetime(2026, 1, 12, 2, 0, tzinfo=UTC),
            "datacontenttype": "application/json",
        },
        data=data,
    )


def _lead(event_id: str) -> CloudEvent:
    data = {"rep_id": "R-1", "account": {"name": "臺灣食品"}, "channel": "web"}
    return _event(event_id, "lead.sourced", data)


def _visit(event_id: str) -> CloudEvent:
    return _event(event_id, "visit.completed", {"rep_id": "R-1", "kind": "FSI"})


async def _stored(client, tokens) -> list[tuple[str, str, dict[str, Any]]]:
    page = (await client.get("/v1/events", headers=bearer(tokens["read"]))).json()
    return [(e["id"], e["type"], e["data"]) for e in page["events"]]


async def test_structured_binary_and_batch_messages_of_the_sdk_are_stored(client, tokens):
    writer = bearer(tokens["events:write"])
    # Given a lead in structured mode and a visit in binary mode, as the SDK writes them
    for message in (
        to_structured(_lead("s-1"), JSONFormat()),
        to_binary(_visit("b-1"), JSONFormat()),
    ):
        response = await client.post(
            "/v1/events", content=message.body, headers={**message.headers, **writer}
        )
        # Then each is stored
        assert response.status_code == 201, response.text
    # And a batch of the SDK's JSON events is stored whole, in order
    batch = [_visit("batch-1"), _visit("batch-2")]
    body = b"[" + b",".join(JSONFormat().write(event) for event in batch) + b"]"
    response = await client.post(
        "/v1/events", content=body, headers={"Content-Type": BATCH, **writer}
    )
    assert response.status_code == 201, response.text
    assert [r["id"] for r in response.json()["results"]] == ["batch-1", "batch-2"]
    stored = await _stored(client, tokens)
    assert [(i, t) for i, t, _ in stored] == [
        ("s-1", "lead.sourced"),
        ("b-1", "visit.completed"),
        ("batch-1", "visit.completed"),
        ("batch-2", "visit.completed"),
    ]
    assert stored[0][2]["account"] == {"name": "臺灣食品"}


async def test_one_structured_event_is_not_a_batch(client, tokens):
    # Structured mode carries one event (contract §2): an array there is refused, named
    message = to_structured(_lead("s-2"), JSONFormat())
    body = b"[" + message.body + b"]"
    response = await client.post(
        "/v1/events", content=body, headers={**message.headers, **bearer(tokens["events:write"])}
    )
    assert response.status_code == 422, response.text
    assert orjson.loads(response.content)["errors"][0]["pointer"] == ""

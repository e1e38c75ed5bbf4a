"""The served OpenAPI document as generated clients read it: ids, request bodies, formats."""

from __future__ import annotations

import re
from typing import Any

import pytest

from service.api.openapi_doc import INSTANT_PARAMETERS
from service.events.vocabulary import EVENT_TYPES

pytestmark = pytest.mark.e2e

OPERATION_IDS = {
    ("GET", "/healthz"): "healthz",
    ("GET", "/readyz"): "readyz",
    ("GET", "/metrics"): "getMetrics",
    ("POST", "/v1/events"): "appendEvents",
    ("POST", "/v1/events/batch"): "appendBatch",
    ("GET", "/v1/events"): "readFeed",
    ("GET", "/v1/deals/{deal_id}"): "getDeal",
    ("GET", "/v1/deals/{deal_id}/events"): "getDealEvents",
    ("GET", "/v1/deals"): "listDeals",
    ("GET", "/v1/scoreboard"): "getScoreboard",
    ("GET", "/v1/scoreboard.csv"): "getScoreboardCsv",
    ("GET", "/v1/scoreboard/series"): "getScoreboardSeries",
    ("GET", "/v1/funnel"): "getFunnel",
    ("GET", "/v1/accounts"): "getAccounts",
    ("GET", "/v1/accounts/{key}"): "getAccount",
    ("GET", "/v1/calendar"): "getCalendar",
    ("GET", "/v1/admin/projection"): "getProjectionStatus",
    ("POST", "/v1/admin/rebuild"): "startRebuild",
    ("GET", "/v1/audit/verify"): "verifyChain",
    ("GET", "/v1/audit/replay"): "replayPeriod",
    ("GET", "/v1/audit/export"): "exportPeriod",
    ("GET", "/v1/audit/requests"): "listAuditRequests",
    ("GET", "/v1/admin/keys"): "listKeys",
    ("POST", "/v1/admin/keys"): "createKey",
    ("GET", "/v1/admin/keys/{key_id}"): "getKey",
    ("POST", "/v1/admin/keys/{key_id}/rotate"): "rotateKey",
    ("POST", "/v1/admin/keys/{key_id}/revoke"): "revokeKey",
    ("GET", "/v1/admin/webhooks/inbox"): "readInbox",
    ("POST", "/v1/admin/webhooks/inbox/replay"): "replayInbox",
    ("POST", "/v1/admin/webhooks/inbox/{item_id}/replay"): "replayInboxItem",
    ("POST", "/webhooks/hubspot"): "receiveHubspotWebhook",
    ("POST", "/webhooks/pipedrive"): "receivePipedriveWebhook",
    ("POST", "/webhooks/aircall"): "receiveAircallWebhook",
    ("POST", "/webhooks/standard/{sender}"): "receiveStandardWebhook",
    ("POST", "/webhooks/salesforce"): "receiveSalesforceMessage",
    ("GET", "/v1/events/stream"): "streamEvents",
    ("POST", "/v1/events/stream/tokens"): "createStreamToken",
    ("GET", "/v1/targets"): "getTargets",
    ("GET", "/v1/analytics/stage-times"): "getStageTimes",
    ("GET", "/v1/analytics/conversion"): "getConversion",
    ("GET", "/v1/analytics/win-rate"): "getWinRate",
    ("GET", "/v1/analytics/waterfall"): "getWaterfall",
    ("GET", "/v1/exports/deals"): "exportDeals",
    ("GET", "/v1/exports/facts"): "exportFacts",
}
"""Generated clients name their functions after these: a change breaks every caller, so a
new route adds its id here and no id ever changes."""

CAMEL_CASE = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)*")


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


@pytest.fixture
async def document(client) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/openapi.json")).json()
    return body


async def test_operation_ids_are_short_camel_case_unique_and_unchanged(document):
    ids = {key: op["operationId"] for key, op in _operations(document).items()}
    assert ids == OPERATION_IDS
    assert len(set(ids.values())) == len(ids)
    assert all(CAMEL_CASE.fullmatch(i) for i in ids.values()), ids


async def test_each_content_type_of_an_append_takes_what_the_server_takes(document):
    content = _operations(document)["POST", "/v1/events"]["requestBody"]["content"]
    one = {"$ref": "#/components/schemas/CloudEvent"}
    batch = {"type": "array", "items": one, "minItems": 1}
    # Structured mode is one event, never an array (contract §2); plain JSON takes either
    assert content["application/cloudevents+json"]["schema"] == one
    assert content["application/cloudevents-batch+json"]["schema"] == batch
    assert content["application/json"]["schema"] == {"oneOf": [one, batch]}


async def test_the_batch_route_takes_one_media_type_an_array_of_events(document):
    content = _operations(document)["POST", "/v1/events/batch"]["requestBody"]["content"]
    one = {"$ref": "#/components/schemas/CloudEvent"}
    assert content == {
        "application/cloudevents-batch+json": {
            "schema": {"type": "array", "items": one, "minItems": 1}
        }
    }


async def test_every_event_type_has_a_schema_chosen_by_its_type(document):
    schemas = document["components"]["schemas"]
    union = schemas["CloudEvent"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(EVENT_TYPES)
    assert [branch["$ref"] for branch in union["oneOf"]] == [mapping[t] for t in EVENT_TYPES]
    for event_type, ref in mapping.items():
        envelope = schemas[ref.rsplit("/", 1)[1]]
        assert envelope["properties"]["type"]["const"] == event_type
        assert envelope["properties"]["time"]["format"] == "date-time"
        data = schemas[envelope["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        assert data["additionalProperties"] is False
    amount = schemas["DealQualified"]["properties"]["amount"]
    assert (amount["type"], amount["format"]) == ("string", "decimal")
    assert re.fullmatch(amount["pattern"].strip("^$"), "125000.00")


async def test_query_instants_are_date_times_or_dates(document):
    found = 0
    for operation in _operations(document).values():
        for parameter in operation.get("parameters", ()):
            if parameter["in"] == "query" and parameter["name"] in INSTANT_PARAMETERS:
                formats = [b.get("format") for b in parameter["schema"]["anyOf"]]
                assert formats[:2] == ["date-time", "date"], parameter
                found += 1
    assert found > 20


async def test_csv_ndjson_and_sse_answers_are_described(document):
    operations = _operations(document)

    def media(key: tuple[str, str]) -> list[str]:
        return list(operations[key]["responses"]["200"]["content"])

    assert media(("GET", "/v1/scoreboard.csv")) == ["text/csv"]
    assert media(("GET", "/v1/exports/deals")) == ["text/csv", "application/x-ndjson"]
    assert media(("GET", "/v1/audit/export")) == ["application/x-ndjson"]
    assert media(("GET", "/v1/events/stream")) == ["text/event-stream"]

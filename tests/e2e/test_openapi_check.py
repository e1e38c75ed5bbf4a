"""The OpenAPI answer check itself: it is installed on `client`, resolves every documented
schema, and rejects what the document does not describe."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from tests.conftest import bearer
from tests.e2e.openapi_check import EXPECTED_MISMATCHES, OpenApiMismatchError, ResponseSchemas
from tests.factories import sourced

pytestmark = pytest.mark.e2e

JSON = "application/json"
PROBLEM = "application/problem+json"


@pytest.fixture
def schemas(app: FastAPI) -> ResponseSchemas:
    return ResponseSchemas(app.openapi())


def _json_responses(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(method, path, status, media type) of every documented JSON response with a schema."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                for media_type, content in (response.get("content") or {}).items():
                    if "json" in media_type and "schema" in content:
                        found.append((method.upper(), path, status, media_type))
    return found


async def test_every_answer_of_the_client_is_checked(client: httpx.AsyncClient, tokens):
    response = await client.get("/v1/funnel", headers=bearer(tokens["read"]))
    assert response.status_code == 200
    body = response.json()
    tampered = {**body, "stages": {**body["stages"], "lead": "many"}}
    forged = httpx.Response(
        200,
        content=orjson.dumps(tampered),
        headers={"content-type": JSON},
        request=response.request,
    )
    (hook,) = client.event_hooks["response"]
    with pytest.raises(OpenApiMismatchError, match=r"/stages/lead"):
        await hook(forged)


async def test_every_documented_json_schema_resolves(app: FastAPI, schemas: ResponseSchemas):
    document = app.openapi()
    responses = _json_responses(document)
    assert len(responses) > 40  # every route documents at least its errors
    for method, path, status, media_type in responses:
        concrete = path.replace("{", "x").replace("}", "")
        code = 599 if status == "default" else int(status)
        # A body of the wrong type is judged (not skipped), and judging compiles the schema
        # with every reference it holds.
        assert schemas.problems(method, concrete, code, media_type, 0.5), (method, path, status)


async def test_a_field_the_document_does_not_name_is_a_mismatch(
    client: httpx.AsyncClient, tokens, schemas: ResponseSchemas
):
    ingest = {**bearer(tokens["events:write"]), "Content-Type": "application/cloudevents+json"}
    posted = await client.post(
        "/v1/events",
        content=orjson.dumps(sourced("D-1", "R-1", "2026-01-05T09:00:00Z")),
        headers=ingest,
    )
    deal = (await client.get("/v1/deals/D-1", headers=bearer(tokens["read"]))).json()
    assert schemas.problems("GET", "/v1/deals/D-1", 200, JSON, deal) == []
    assert schemas.problems("GET", "/v1/deals/D-1", 200, JSON, {**deal, "colour": "red"}) == [
        "at /: Additional properties are not allowed ('colour' was unexpected)"
    ]
    nested = {"results": [{**posted.json()["results"][0], "extra": 1}]}
    assert schemas.problems("POST", "/v1/events", 201, JSON, nested)


async def test_problem_details_may_carry_extension_members(
    client: httpx.AsyncClient, tokens, schemas: ResponseSchemas
):
    response = await client.get("/v1/deals/nowhere", headers=bearer(tokens["read"]))
    assert response.status_code == 404
    problem = {**response.json(), "errors": [{"pointer": "/x", "detail": "y"}]}
    assert schemas.problems("GET", "/v1/deals/nowhere", 404, PROBLEM, problem) == []
    assert schemas.problems("GET", "/v1/deals/nowhere", 404, PROBLEM, {"detail": "no"})


def test_a_json_body_where_the_document_names_another_media_type_is_a_mismatch(
    schemas: ResponseSchemas,
):
    assert schemas.problems("GET", "/v1/deals/D-1", 200, PROBLEM, {}) == [
        "a body of type application/problem+json where response 200 documents application/json"
    ]


def test_undocumented_routes_are_not_judged(schemas: ResponseSchemas):
    assert schemas.problems("GET", "/no/such/route", 200, JSON, 1) == []
    assert schemas.problems("DELETE", "/v1/scoreboard", 405, PROBLEM, 1) == []


def test_no_answer_is_excused():
    assert EXPECTED_MISMATCHES == {}

"""What the served OpenAPI document adds to FastAPI's: operation ids, event schemas, formats.

Generated clients name their functions and classes after operation ids and type their values
by the schemas' formats, so the document gives short, stable camelCase ids (`getScoreboard`,
not FastAPI's `get_scoreboard_v1_scoreboard_get`), a schema per event type (see
`service.api.schemas.event_schemas`) and the formats of query instants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.api.schemas.event_schemas import event_components

_OPERATION_IDS: dict[str, str] = {
    # Endpoint functions whose names alone say too little to a client's reader.
    "metrics": "getMetrics",
    "projection_status": "getProjectionStatus",
    "audit_requests": "listAuditRequests",
    "hubspot": "receiveHubspotWebhook",
    "pipedrive": "receivePipedriveWebhook",
    "aircall": "receiveAircallWebhook",
    "standard": "receiveStandardWebhook",
    "salesforce": "receiveSalesforceMessage",
    "stream_token": "createStreamToken",
    "stage_times": "getStageTimes",
    "conversion": "getConversion",
    "win_rate": "getWinRate",
    "waterfall": "getWaterfall",
}

INSTANT_PARAMETERS = frozenset({"as_of", "known_at", "from", "to"})
"""Query parameters that are instants: a date-time (its offset may be left out: the company's
time zone) or a date (`service.api.http.time_params`)."""
_INSTANT_FORMATS = ({"type": "string", "format": "date-time"}, {"type": "string", "format": "date"})


def operation_id(route: APIRoute) -> str:
    """The operation id of a route: its endpoint's name in camelCase, or a clearer name."""
    name = route.name
    if name in _OPERATION_IDS:
        return _OPERATION_IDS[name]
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _with_instant_formats(schema: dict[str, Any]) -> dict[str, Any]:
    """`string` (or `string | null`) as a date-time or a date (or null)."""
    if schema.get("type") == "string" and "format" not in schema:
        extra = {key: value for key, value in schema.items() if key != "type"}
        return {"anyOf": [dict(item) for item in _INSTANT_FORMATS], **extra}
    branches = schema.get("anyOf")
    if isinstance(branches, list) and {"type": "string"} in branches:
        at = branches.index({"type": "string"})
        new = [*branches[:at], *(dict(item) for item in _INSTANT_FORMATS), *branches[at + 1 :]]
        return {**schema, "anyOf": new}
    return schema


def _format_instants(document: dict[str, Any]) -> None:
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") == "query" and parameter["name"] in INSTANT_PARAMETERS:
                    parameter["schema"] = _with_instant_formats(parameter["schema"])


def _add_components(document: dict[str, Any]) -> None:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in event_components().items():
        if schemas.get(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name!r}")
        schemas[name] = schema
    document["components"]["schemas"] = dict(sorted(schemas.items()))


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` serve FastAPI's document with this module's additions."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _add_components(document)
            _format_instants(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

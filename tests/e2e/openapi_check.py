"""Every JSON answer a test gets is held to the served OpenAPI document.

For an answer from a documented route, the schema documented for its status (or the `default`
response) and media type is looked up in the app's own OpenAPI document and the body validated
against it as JSON Schema 2020-12 (what OpenAPI 3.1 schemas are), `$ref`s resolved inside the
document. The `client` fixture installs `check_response` as an httpx response hook, so a route
whose body drifts from its documented model fails whichever test reads it.

The check is stricter than JSON Schema's defaults on two points: formats such as `date-time`
are asserted, and an object whose schema lists its properties may hold no others (pydantic
leaves `additionalProperties` open), so a field a route adds without documenting it is caught
too. Problem details stay open: RFC 9457 lets them carry extension members.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema_rs
import orjson

Document = Mapping[str, Any]
ResponseHook = Callable[[httpx.Response], Awaitable[None]]

EXPECTED_MISMATCHES: dict[tuple[str, str, int], str] = {}
"""(method, path template, status) whose documented schema the body is known not to meet, and
why it is left so. Empty: every documented answer meets its schema."""

_EMPTY_STATUSES = frozenset({204, 304})
_OPEN_MEDIA_TYPES = frozenset({"application/problem+json"})
_COMPOSITIONS = ("allOf", "anyOf", "oneOf", "$ref")
_MAX_ERRORS_SHOWN = 5


class OpenApiMismatchError(AssertionError):
    """A body that its route's documented response schema does not accept."""


@dataclass(frozen=True)
class _Operation:
    template: str
    pattern: re.Pattern[str]
    literal: bool
    responses: Mapping[str, Any]


def _path_pattern(template: str) -> re.Pattern[str]:
    """A regex for a path template: each `{name}` is one path segment."""
    parts = re.split(r"(\{[^}/]+\})", template)
    body = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"{body}/?")


def _closed(schema: Any) -> Any:
    """`schema` with every object that lists its properties closed to any other property.

    An object combined with others (`allOf`, a sibling `$ref`) is left open: closing one part
    would reject the properties another part adds.
    """
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    closed = {name: _closed(value) for name, value in schema.items()}
    if (
        "properties" in closed
        and "additionalProperties" not in closed
        and not any(name in closed for name in _COMPOSITIONS)
    ):
        closed["additionalProperties"] = False
    return closed


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower()


class ResponseSchemas:
    """The response schemas of one OpenAPI document, by method, path, status and media type."""

    def __init__(self, document: Document) -> None:
        self._components = document.get("components", {})
        self._closed_components = _closed(self._components)
        self._operations: dict[str, list[_Operation]] = {}
        for template, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if not isinstance(operation, Mapping) or "responses" not in operation:
                    continue
                self._operations.setdefault(method.upper(), []).append(
                    _Operation(
                        template=template,
                        pattern=_path_pattern(template),
                        literal="{" not in template,
                        responses=operation["responses"],
                    )
                )
        for operations in self._operations.values():
            # A literal path wins over a template that also matches it.
            operations.sort(key=lambda op: (not op.literal, op.template.count("{")))
        self._validators: dict[tuple[str, str, str, str], jsonschema_rs.Validator] = {}

    def _operation(self, method: str, path: str) -> _Operation | None:
        for operation in self._operations.get(method, []):
            if operation.pattern.fullmatch(path):
                return operation
        return None

    @staticmethod
    def _response(operation: _Operation, status: int) -> tuple[str, Any] | None:
        """The documented response for `status`: exact, then its range (`4XX`), then default."""
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in operation.responses:
                return key, operation.responses[key]
        return None

    def _validator(
        self, operation: _Operation, method: str, key: str, media_type: str, schema: Any
    ) -> jsonschema_rs.Validator:
        cache_key = (method, operation.template, key, media_type)
        if cache_key not in self._validators:
            # The schema becomes the root of a document that also holds the components, so
            # `#/components/schemas/...` references resolve as they do in the OpenAPI file.
            if media_type in _OPEN_MEDIA_TYPES:
                root = {**schema, "components": self._components}
            else:
                root = {**_closed(schema), "components": self._closed_components}
            # Formats (`date-time`, ...) are asserted: a client parses what the type promises.
            self._validators[cache_key] = jsonschema_rs.Draft202012Validator(
                root, validate_formats=True
            )
        return self._validators[cache_key]

    def problems(
        self, method: str, path: str, status: int, media_type: str, body: Any
    ) -> list[str]:
        """What is wrong with a JSON answer against the document; empty when nothing is.

        Answers from undocumented routes or statuses are not judged: there is nothing to hold
        them to.
        """
        operation = self._operation(method, path)
        if operation is None:
            return []
        if (method, operation.template, status) in EXPECTED_MISMATCHES:
            return []
        found = self._response(operation, status)
        if found is None:
            return []
        key, response = found
        content: Mapping[str, Any] = response.get("content") or {}
        documented = content.get(media_type)
        if documented is None:
            listed = ", ".join(content) or "no body"
            return [f"a body of type {media_type} where response {key} documents {listed}"]
        schema = documented.get("schema")
        if schema is None:
            return []
        validator = self._validator(operation, method, key, media_type, schema)
        return [
            f"at /{'/'.join(map(str, error.instance_path))}: {error.message}"
            for error in validator.iter_errors(body)
        ]

    def check(self, response: httpx.Response) -> None:
        """Raise `OpenApiMismatchError` if a read JSON answer breaks its documented schema."""
        request = response.request
        media_type = _media_type(response)
        if (
            request.method == "HEAD"
            or response.status_code in _EMPTY_STATUSES
            or not _is_json(media_type)
            or not response.content
        ):
            return
        found = self.problems(
            request.method,
            request.url.path,
            response.status_code,
            media_type,
            orjson.loads(response.content),
        )
        if found:
            shown = "\n  ".join(found[:_MAX_ERRORS_SHOWN])
            more = len(found) - _MAX_ERRORS_SHOWN
            raise OpenApiMismatchError(
                f"{request.method} {request.url.path} answered {response.status_code} with a "
                f"body the OpenAPI document does not accept:\n  {shown}"
                + (f"\n  ... and {more} more" if more > 0 else "")
            )


def response_checker(document: Callable[[], Document]) -> ResponseHook:
    """An httpx response hook validating each JSON answer against `document()`.

    The document is asked for on the first answer, so an app may be created before its
    OpenAPI document can be built.
    """
    schemas: list[ResponseSchemas] = []

    async def check_response(response: httpx.Response) -> None:
        if not _is_json(_media_type(response)):
            return  # never read a stream (server-sent events, NDJSON) the test reads itself
        await response.aread()
        if not schemas:
            schemas.append(ResponseSchemas(document()))
        schemas[0].check(response)

    return check_response

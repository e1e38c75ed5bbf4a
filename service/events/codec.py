"""CloudEvents over HTTP: structured, batch, binary and plain JSON bodies to raw event mappings.

This module only decodes; `service.events.envelope.parse_event` validates each event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from service.events.json_keys import DuplicateKeys, check_unique_keys

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
PLAIN_JSON = "application/json"
_BINARY_PREFIX = "ce-"
_NUL_ESCAPE = b"\\u0000"


@dataclass(frozen=True, slots=True)
class BodyError(Exception):
    """The body cannot be read as events at all (before any event is validated)."""

    status: int
    title: str
    detail: str
    slug: str = "unreadable-body"
    errors: tuple[tuple[str, str], ...] = ()
    """(JSON Pointer into the body, detail) of each problem, when they can be named."""


@dataclass(frozen=True, slots=True)
class DecodedBody:
    """Raw events taken from one request, and whether they came as a batch.

    `text_checked`: every text in the events can be stored. True of a JSON body without a NUL
    escape (`\\u0000`): the parser accepts only valid Unicode, and JSON can carry a NUL only
    escaped.
    """

    events: list[Any]
    is_batch: bool
    text_checked: bool = False


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header ('' when absent)."""
    return (content_type or "").split(";")[0].strip().lower()


def _json(body: bytes) -> Any:
    try:
        parsed = orjson.loads(body)
        check_unique_keys(body, parsed)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, "Malformed JSON", f"the body is not valid JSON: {exc}") from exc
    except DuplicateKeys as exc:
        raise BodyError(
            422,
            "Duplicate keys",
            "an object of the body gives a key more than once; nothing was stored",
            slug="duplicate-keys",
            errors=tuple(exc.problems),
        ) from exc
    return parsed


def _binary(headers: Mapping[str, str], kind: str, body: bytes) -> DecodedBody:
    event: dict[str, Any] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(_BINARY_PREFIX) and len(lowered) > len(_BINARY_PREFIX):
            attribute = lowered[len(_BINARY_PREFIX) :]
            if attribute in event:  # a header given twice: which one would the sender mean?
                raise BodyError(
                    422,
                    "Duplicate keys",
                    f"the header {name} is given more than once; nothing was stored",
                    slug="duplicate-keys",
                    errors=((f"/{attribute}", f"'{name}' is given more than once"),),
                )
            event[attribute] = unquote(value)
    if kind:
        event["datacontenttype"] = kind
    if kind not in ("", PLAIN_JSON) and not kind.endswith("+json"):
        raise BodyError(
            415,
            "Unsupported Media Type",
            "binary-mode events must carry JSON data (application/json)",
        )
    event["data"] = _json(body) if body else None
    return DecodedBody([event], is_batch=False)


def decode_batch(content_type: str | None, body: bytes) -> DecodedBody:
    """The raw events of a body that must be a batch (`application/cloudevents-batch+json`)."""
    if media_type(content_type) != BATCH:
        raise BodyError(415, "Unsupported Media Type", f"send a batch as {BATCH}")
    return _batch(body, checked=_NUL_ESCAPE not in body)


def _batch(body: bytes, checked: bool) -> DecodedBody:
    parsed = _json(body)
    if not isinstance(parsed, list):
        raise BodyError(400, "Malformed batch", "a batch is a JSON array of events")
    return DecodedBody(parsed, is_batch=True, text_checked=checked)


def decode_body(content_type: str | None, headers: Mapping[str, str], body: bytes) -> DecodedBody:
    """The raw events of a request body, by content mode; raise `BodyError` if unreadable."""
    kind = media_type(content_type)
    if any(name.lower() == "ce-specversion" for name in headers):
        return _binary(headers, kind, body)
    checked = _NUL_ESCAPE not in body
    if kind == STRUCTURED:
        return DecodedBody([_json(body)], is_batch=False, text_checked=checked)
    if kind == BATCH:
        return _batch(body, checked)
    if kind == PLAIN_JSON:
        parsed = _json(body)
        if isinstance(parsed, list):
            return DecodedBody(parsed, is_batch=True, text_checked=checked)
        return DecodedBody([parsed], is_batch=False, text_checked=checked)
    raise BodyError(
        415,
        "Unsupported Media Type",
        f"send {STRUCTURED}, {BATCH} or {PLAIN_JSON} (or binary mode with ce-* headers)",
    )

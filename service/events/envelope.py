"""CloudEvents 1.0 envelopes: validation of one event into a typed, normalised `CloudEvent`.

Parsing of HTTP bodies and headers (structured, batch, binary) lives in `service.events.http`;
this module validates one event given as a mapping of its attributes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from service.digits import MAX_INT64, natural
from service.events.instants import check_range, parse_date_time, utc_iso_json
from service.events.text import identifier_problem
from service.events.vocabulary import (
    ACCOUNT_SUBJECT_PREFIX,
    COMPANY_CALENDAR,
    EVENT_TYPES,
    NON_DEAL_PREFIXES,
    REP_SUBJECT_PREFIX,
    TEAM_SUBJECT_PREFIX,
    EventData,
    RepTeamAssigned,
    SubjectKind,
)

# Matched whole (`fullmatch`): `$` alone would also match before a final newline.
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")
MAX_FUTURE = timedelta(minutes=5)
_SAFE_INTEGER = 2**53 - 1
_CORE_ATTRIBUTES = frozenset(
    {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
        "data",
        "data_base64",
    }
)
_NOT_EXTENSIONS = _CORE_ATTRIBUTES | {"expectedversion"}
_JSON_CONTENT_TYPES = ("application/json", "text/json")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one attribute of an event; `pointer` is a JSON Pointer into the event."""

    pointer: str
    detail: str


@dataclass(frozen=True, slots=True)
class EnvelopeError(Exception):
    """An event failed validation; every problem found is listed."""

    errors: tuple[FieldError, ...]

    def __str__(self) -> str:
        return "; ".join(f"{error.pointer}: {error.detail}" for error in self.errors)


@dataclass(slots=True)
class CloudEvent:
    """A validated contract event, normalised: `time` in UTC and `data` as its typed model.

    Treat it as immutable. It is not a frozen dataclass only because a frozen one sets each
    field through `object.__setattr__`, which was a sixth of the cost of validating an event;
    the per-event types of the append path (`service.store.log.append_plan`) do the same.
    """

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: EventData
    expected_version: int | None = None
    original_time: str = ""
    extensions: Mapping[str, Any] = field(default_factory=dict)
    _json: dict[str, Any] = field(init=False, repr=False, compare=False)
    _canonical_data: bytes = field(init=False, repr=False, compare=False)
    _fingerprint: bytes = field(init=False, repr=False, compare=False)
    key: tuple[str, str] = field(init=False, repr=False, compare=False)
    """The idempotency key: (source, id)."""
    _time_text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the append path needs each of them several times per event. The model's
        # own serializer is `model_dump(mode="json", exclude_none=True)` without its call setup.
        stored = self.data.__pydantic_serializer__.to_python(
            self.data, mode="json", exclude_none=True
        )
        canonical_data = orjson.dumps(stored, option=orjson.OPT_SORT_KEYS)
        time_json = utc_iso_json(self.time)
        # The fingerprint takes `time` as held: in UTC, unless built from another offset.
        given = time_json if self.time.tzinfo is UTC else orjson.dumps(self.time.isoformat())
        self._json = stored
        self._canonical_data = canonical_data
        self._fingerprint = _fingerprint(self, canonical_data, given)
        self.key = (self.source, self.id)
        self._time_text = time_json[1:-1].decode()

    @property
    def time_text(self) -> str:
        """`time` in the canonical text of the hash chain (ISO 8601 in UTC)."""
        return self._time_text

    def data_json(self) -> dict[str, Any]:
        """The data as stored: JSON-ready, with optional fields that were not given left out."""
        return self._json

    def canonical_data(self) -> bytes:
        """`data_json()` as canonical JSON (sorted keys, compact)."""
        return self._canonical_data

    def fingerprint(self) -> bytes:
        """A digest of the event's content: tells a retry from a conflicting reuse of its key.

        SHA-256 of the sorted, compact JSON of {type, subject, time, data}, `time` as given
        (`tests/unit/test_fingerprint.py` holds it to that form: stored fingerprints depend on
        it).
        """
        return self._fingerprint


def _fingerprint(event: CloudEvent, canonical_data: bytes, time_json: bytes) -> bytes:
    # The sorted keys of the content are data, subject, time, type; `time_json` is the JSON
    # string of the ISO 8601 text of `time`.
    content = b'{"data":%b,"subject":%b,"time":%b,"type":%b}' % (
        canonical_data,
        orjson.dumps(event.subject),
        time_json,
        orjson.dumps(event.type),
    )
    return hashlib.sha256(content).digest()


def _text(raw: Mapping[str, Any], name: str, errors: list[FieldError], max_len: int) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        errors.append(
            FieldError(f"/{name}", f"'{name}' is required and must be a non-empty string")
        )
        return ""
    if len(value) > max_len:
        errors.append(FieldError(f"/{name}", f"'{name}' is longer than {max_len} characters"))
    elif problem := identifier_problem(value):
        errors.append(FieldError(f"/{name}", problem))
    return value


def _time(raw: Mapping[str, Any], now: datetime, errors: list[FieldError]) -> datetime | None:
    value = raw.get("time")
    if not isinstance(value, str):
        errors.append(
            FieldError("/time", "'time' is required: an RFC 3339 timestamp with a UTC offset")
        )
        return None
    try:
        parsed = check_range(parse_date_time(value), value)
    except ValueError as exc:
        errors.append(FieldError("/time", f"'time': {exc}"))
        return None
    if parsed - now > MAX_FUTURE:
        errors.append(FieldError("/time", "'time' is more than 5 minutes in the future"))
        return None
    return parsed


def _expected_version(raw: Mapping[str, Any], errors: list[FieldError]) -> int | None:
    value = raw.get("expectedversion")
    if value is None:
        return None
    if isinstance(value, str):  # binary mode: every attribute arrives as text
        value = natural(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT64:
        errors.append(
            FieldError("/expectedversion", "'expectedversion' must be a non-negative integer")
        )
        return None
    return value


def _extensions(raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    if raw.keys() <= _NOT_EXTENSIONS:  # most events carry none: one set comparison
        return {}
    extensions: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _CORE_ATTRIBUTES or name == "expectedversion":
            continue
        if not EXTENSION_NAME.fullmatch(name):
            errors.append(
                FieldError(f"/{name}", "extension names are 1-20 lower-case letters or digits")
            )
        elif not isinstance(value, str | int | bool) or (
            isinstance(value, int) and abs(value) > _SAFE_INTEGER
        ):
            errors.append(
                FieldError(f"/{name}", "extension values are strings, integers or booleans")
            )
        else:
            extensions[name] = value
    return extensions


def _subject(raw: Mapping[str, Any], kind: SubjectKind | None, errors: list[FieldError]) -> str:
    subject = raw.get("subject")
    if not isinstance(subject, str) or not SUBJECT_PATTERN.fullmatch(subject):
        errors.append(
            FieldError("/subject", "'subject' is required and must match ^[A-Za-z0-9._:-]{1,128}$")
        )
        return ""
    problem = _subject_problem(subject, kind)
    if problem:
        errors.append(FieldError("/subject", problem))
    return subject


def _names(subject: str, prefix: str) -> bool:
    return subject.startswith(prefix) and len(subject) > len(prefix)


def _subject_problem(subject: str, kind: SubjectKind | None) -> str | None:
    if kind is SubjectKind.DEAL:  # most events: one test
        if subject.startswith(NON_DEAL_PREFIXES):
            return (
                "deal events are written to a deal id, "
                "not to 'rep:…', 'team:…', 'account:…' or 'calendar:…'"
            )
        return None
    if kind is SubjectKind.CALENDAR:
        if subject != COMPANY_CALENDAR:
            return f"calendar events are written to the subject '{COMPANY_CALENDAR}'"
        return None
    is_rep, is_team = _names(subject, REP_SUBJECT_PREFIX), _names(subject, TEAM_SUBJECT_PREFIX)
    if kind is SubjectKind.REP and not is_rep:
        return "rep events are written to the subject 'rep:<rep_id>'"
    if kind is SubjectKind.TEAM and not is_team:
        return "team events are written to the subject 'team:<team_id>'"
    if kind is SubjectKind.REP_OR_TEAM and not (is_rep or is_team):
        return "this event is written to the subject 'rep:<rep_id>' or 'team:<team_id>'"
    if kind is SubjectKind.ACCOUNT and not _names(subject, ACCOUNT_SUBJECT_PREFIX):
        return "account events are written to a subject 'account:<…>'"
    return None


def _data(
    raw: Mapping[str, Any], model: type[EventData] | None, errors: list[FieldError]
) -> EventData | None:
    content_type = raw.get("datacontenttype")
    if content_type is not None and (
        not isinstance(content_type, str)
        or content_type.split(";")[0].strip().lower() not in _JSON_CONTENT_TYPES
    ):
        errors.append(FieldError("/datacontenttype", "'datacontenttype' must be application/json"))
    if "data_base64" in raw:
        errors.append(FieldError("/data_base64", "binary data is not accepted; send JSON 'data'"))
    data = raw.get("data")
    if not isinstance(data, dict):
        errors.append(FieldError("/data", "'data' is required and must be a JSON object"))
        return None
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for item in exc.errors():
            path = "/".join(str(part) for part in item["loc"])
            errors.append(FieldError(f"/data/{path}" if path else "/data", item["msg"]))
        return None


def _team_rep_matches(subject: str, data: EventData | None, errors: list[FieldError]) -> None:
    named = data.rep_id if type(data) is RepTeamAssigned else None
    if named is not None and f"{REP_SUBJECT_PREFIX}{named}" != subject:
        errors.append(FieldError("/data/rep_id", "'rep_id' must match the subject 'rep:<rep_id>'"))


# A NUL escape in JSON text: "\u0000" preceded by an even number of backslashes.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _text_problem(raw: Mapping[str, Any]) -> str | None:
    """Why the event's text cannot be stored (NUL characters, lone surrogates), if it cannot."""
    try:
        encoded = orjson.dumps(raw)
    except orjson.JSONEncodeError:
        return "text must be valid Unicode (no lone surrogates) and numbers within 64 bits"
    if b"\\u0000" in encoded and _NUL_ESCAPE.search(encoded):
        return "text may not contain the NUL character (U+0000)"
    return None


def parse_event(
    raw: object, *, now: datetime | None = None, text_checked: bool = False
) -> CloudEvent:
    """Validate one structured-mode event; raise `EnvelopeError` listing every problem.

    `text_checked` says the caller already knows the event's text can be stored (valid Unicode,
    no NUL character), as `decode_body` knows of a JSON body without a NUL escape.
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):  # the ABC check is slower
        raise EnvelopeError((FieldError("", "an event must be a JSON object"),))
    if not text_checked and (problem := _text_problem(raw)):
        raise EnvelopeError((FieldError("", problem),))
    errors: list[FieldError] = []
    if raw.get("specversion") != "1.0":
        errors.append(FieldError("/specversion", "'specversion' must be \"1.0\""))
    event_id = _text(raw, "id", errors, 256)
    source = _text(raw, "source", errors, 512)
    given_type = raw.get("type")
    entry = EVENT_TYPES.get(given_type) if isinstance(given_type, str) else None
    # A known type is a plain identifier: only an unknown one needs the checks of `_text`.
    event_type = str(given_type) if entry is not None else _text(raw, "type", errors, 128)
    if event_type and entry is None:
        errors.append(FieldError("/type", f"unknown event type {event_type!r}"))
    subject = _subject(raw, entry.subject_kind if entry else None, errors)
    time = _time(raw, now or datetime.now(UTC), errors)
    expected_version = _expected_version(raw, errors)
    extensions = _extensions(raw, errors)
    data = _data(raw, entry.model if entry else None, errors)
    _team_rep_matches(subject, data, errors)
    if errors or data is None or time is None or entry is None:
        raise EnvelopeError(tuple(errors))
    return CloudEvent(
        id=event_id,
        source=source,
        type=event_type,
        subject=subject,
        time=time,
        data=data,
        expected_version=expected_version,
        original_time=str(raw["time"]),
        extensions=extensions,
    )

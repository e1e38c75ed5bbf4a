"""JSON Schemas of the events `POST /v1/events` takes, built from the event vocabulary.

One envelope model per event type (its `type` a constant, its `data` the vocabulary's model)
and their union discriminated by `type`, so that a generated client gets a class per event
type. The schemas document what `service.events.envelope.parse_event` checks; the server stays
the judge (it also takes an amount as a JSON number, and checks subjects per stream kind).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from service.digits import MAX_INT64
from service.events.codec import BATCH, PLAIN_JSON, STRUCTURED
from service.events.vocabulary import EVENT_TYPES, EventType, SubjectKind

REF_TEMPLATE = "#/components/schemas/{model}"
EVENT_SCHEMA = "CloudEvent"
"""The component holding the union of every event type."""

_SUBJECT = r"[A-Za-z0-9._:-]{1,128}"
_SUBJECTS: dict[SubjectKind, tuple[str, str]] = {
    SubjectKind.DEAL: (f"^{_SUBJECT}$", "The deal id."),
    SubjectKind.REP: (r"^rep:[A-Za-z0-9._:-]{1,124}$", "`rep:<rep_id>`."),
    SubjectKind.TEAM: (r"^team:[A-Za-z0-9._:-]{1,123}$", "`team:<team_id>`."),
    SubjectKind.REP_OR_TEAM: (
        r"^(rep|team):[A-Za-z0-9._:-]{1,123}$",
        "`rep:<rep_id>` or `team:<team_id>`.",
    ),
    SubjectKind.ACCOUNT: (
        r"^account:[A-Za-z0-9._:-]{1,120}$",
        "`account:<…>`: by convention the account's key where it fits.",
    ),
    SubjectKind.CALENDAR: (r"^calendar:company$", "`calendar:company`, the company calendar."),
    SubjectKind.ANY: (f"^{_SUBJECT}$", "The stream of the retracted event."),
}

ExtensionValue = Annotated[
    str | Annotated[int, Field(ge=-(2**53 - 1), le=2**53 - 1)] | bool,
    Field(
        description="A CloudEvents extension attribute (name: 1-20 lower-case letters or digits)."
    ),
]


class _Envelope(BaseModel):
    """The CloudEvents 1.0 attributes common to every event (contract §2)."""

    # Extension attributes are kept; their values are strings, integers or booleans.
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, ExtensionValue] = Field(init=False)

    specversion: Literal["1.0"]
    id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=256,
            description="With `source`, the event's idempotency key: a retry is stored once.",
        ),
    ]
    source: Annotated[str, Field(min_length=1, max_length=512, description="Who sent it.")]
    time: Annotated[
        datetime,
        Field(description="When it happened: RFC 3339 with an offset, at most 5 minutes ahead."),
    ]
    datacontenttype: Annotated[
        str | None, Field(description="`application/json`, the default: data is JSON.")
    ] = None
    expectedversion: Annotated[
        int | None,
        Field(
            ge=0,
            le=MAX_INT64,
            description="Optimistic concurrency: the stream's version this event expects.",
        ),
    ] = None


def _class_name(event_type: str) -> str:
    """`deal.eb_committed` -> `DealEbCommittedEvent`."""
    words = event_type.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def _envelope(entry: EventType) -> type[BaseModel]:
    pattern, description = _SUBJECTS[entry.subject_kind]
    model: type[BaseModel] = create_model(
        _class_name(entry.name),
        __base__=_Envelope,
        __doc__=f"A `{entry.name}` event: {entry.model.__doc__ or ''}".strip(),
        type=(cast(Any, Literal)[entry.name], ...),  # a constant known only at run time
        subject=(str, Field(pattern=pattern, description=description)),
        data=(entry.model, ...),
    )
    return model


def _event_union() -> Any:
    envelopes = tuple(_envelope(entry) for entry in EVENT_TYPES.values())
    return Annotated[Union[envelopes], Field(discriminator="type")]  # noqa: UP007


def event_components() -> dict[str, Any]:
    """Component schemas: one per event type and its data, and `CloudEvent`, their union."""
    adapter: TypeAdapter[Any] = TypeAdapter(_event_union())
    schema = adapter.json_schema(ref_template=REF_TEMPLATE, mode="validation")
    components: dict[str, Any] = schema.pop("$defs")
    components[EVENT_SCHEMA] = {
        **schema,
        "title": EVENT_SCHEMA,
        "description": "One CloudEvent of the contract's vocabulary, by its `type`.",
    }
    return components


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _batch_schema() -> dict[str, Any]:
    return {"type": "array", "items": _ref(EVENT_SCHEMA), "minItems": 1}


def append_request_body() -> dict[str, Any]:
    """The request body of `POST /v1/events`, per content type, as `decode_body` reads it."""
    one = _ref(EVENT_SCHEMA)
    batch = _batch_schema()
    return {
        "required": True,
        "description": "Structured mode takes one event, batch mode an array of events and "
        "plain JSON either. Binary mode (the event's attributes as `ce-*` headers, its data "
        "as the JSON body) is taken too.",
        "content": {
            STRUCTURED: {"schema": one},
            BATCH: {"schema": batch},
            PLAIN_JSON: {"schema": {"oneOf": [one, batch]}},
        },
    }


def batch_request_body() -> dict[str, Any]:
    """The request body of `POST /v1/events/batch`: one media type, an array of events (a
    generated client gets one typed function for it)."""
    return {
        "required": True,
        "description": "An array of events (batch mode); every event is stored or none.",
        "content": {BATCH: {"schema": _batch_schema()}},
    }

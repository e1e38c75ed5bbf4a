"""Older shapes of event data, lifted to the current shape whenever the log is read.

An event type's data may change shape over the years; a stored row never does (the table refuses
updates and the hash chain covers its bytes). Each row keeps the `schema_version` it was written
with. When a row is read back as a `RecordedEvent`, `recorded_event` applies the type's steps
from that version to the current one, in order; each step is a pure function from the data of
one version to the data of the next. Folds, projections, rebuilds and replays therefore only
ever see current shapes; the feed and the audit export show rows as stored.

Version 1 is every type's shape in the contract, and what every row the service writes carries
(the column's default). A shape from before it is numbered below 1; the next change of a type
makes its current version 2, with a step from 1. See `docs/schema-evolution.md`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.events.recorded import RecordedEvent

Data = Mapping[str, Any]
Step = Callable[[Data], dict[str, Any]]
"""Lifts the data of one schema version to the next; pure, and never changes its argument."""

CONTRACT_VERSION = 1
"""The schema version of every type that has no older shape."""


class ShapeError(ValueError):
    """Stored data that no step brings to its current shape: a newer release wrote it, or it is
    not of the version it claims."""


@dataclass(frozen=True, slots=True)
class ShapeHistory:
    """The shapes of one event type: `steps[i]` lifts version `oldest + i` to the next one."""

    oldest: int
    steps: tuple[Step, ...]
    current: int = field(init=False)
    """The version new events of the type are written with."""

    def __post_init__(self) -> None:
        # A field, not a property: every row read compares its version with it.
        object.__setattr__(self, "current", self.oldest + len(self.steps))


_VISIT_KINDS = {"first": "FSI", "follow_up": "FUA"}


def visit_completed_v0_v1(data: Data) -> dict[str, Any]:
    """Visits once said `"type": "first" | "follow_up"`; the contract says `"kind": FSI | FUA`."""
    lifted = {key: value for key, value in data.items() if key != "type"}
    try:
        lifted["kind"] = _VISIT_KINDS[data["type"]]
    except KeyError:
        raise ShapeError(f"not a version 0 visit: {dict(data)!r}") from None
    return lifted


HISTORIES: dict[str, ShapeHistory] = {
    "visit.completed": ShapeHistory(oldest=0, steps=(visit_completed_v0_v1,)),
}
"""Every event type with more than one shape, by its CloudEvents `type`."""


def current_version(event_type: str) -> int:
    """The schema version the appender writes for `event_type`."""
    history = HISTORIES.get(event_type)
    return CONTRACT_VERSION if history is None else history.current


def older_shapes() -> list[tuple[str, int]]:
    """Every (type, version) whose stored data is not in its type's current shape."""
    return [
        (event_type, version)
        for event_type, history in HISTORIES.items()
        for version in range(history.oldest, history.current)
    ]


def upcast(event_type: str, schema_version: int, data: Data) -> Data:
    """`data`, stored at `schema_version`, in the current shape of `event_type`."""
    history = HISTORIES.get(event_type)
    current = CONTRACT_VERSION if history is None else history.current
    if schema_version == current:
        return data
    if history is None or not history.oldest <= schema_version < current:
        raise ShapeError(
            f"{event_type} has no step from schema version {schema_version} to {current}"
        )
    for step in history.steps[schema_version - history.oldest :]:
        data = step(data)
    return data


def recorded_event(
    position: int,
    subject: str,
    stream_version: int,
    source: str,
    id: str,  # noqa: A002 - the CloudEvents attribute is called id
    type: str,  # noqa: A002 - the CloudEvents attribute is called type
    occurred_at: datetime,
    recorded_at: datetime,
    data: Data,
    metadata: Data,
    schema_version: int,
) -> RecordedEvent:
    """A stored row as every fold reads it: its data in its type's current shape.

    The one place where rows of the events table become `RecordedEvent`s.
    """
    history = HISTORIES.get(type)
    if history is None:
        if schema_version != CONTRACT_VERSION:
            data = upcast(type, schema_version, data)  # raises: no step for this type
    elif schema_version != history.current:
        data = upcast(type, schema_version, data)
        schema_version = history.current
    return RecordedEvent(
        position,
        subject,
        stream_version,
        source,
        id,
        type,
        occurred_at,
        recorded_at,
        data,
        metadata,
        schema_version,
    )

"""The stored form of an event, as projections and readers see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class RecordedEvent:
    """An event as durably stored: its envelope, its place in the log and its validated data.

    `occurred_at` is valid time (CloudEvents `time`); `recorded_at` is transaction time, set by
    the database. `position` orders the global log; `stream_version` orders the subject's stream.
    `data` is in the shape of `schema_version`: read from the log, its type's current one
    (`service.events.upcasting`).

    Treat it as immutable. It is not a frozen dataclass because a frozen one sets each field
    through `object.__setattr__`: five times the cost of building one, and a rebuild, a
    catch-up or an audit replay builds one per event.
    """

    position: int
    subject: str
    stream_version: int
    source: str
    id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    data: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = 1

    @property
    def key(self) -> tuple[str, str]:
        """The idempotency key: (source, id)."""
        return (self.source, self.id)

"""A deal's timeline across transaction time: what was believed about it, and when.

The read models store these rows so that any (`as_of`, `known_at`) question about a deal's stage
and owner is one lookup: the segment covering `as_of` among those believed at `known_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from service.events.recorded import RecordedEvent
from service.events.vocabulary import RETRACTION
from service.projections.knowledge import order_key, visible
from service.projections.timeline import Segment, TimelineBuilder


@dataclass(frozen=True, slots=True)
class KnownSegment:
    """A timeline segment believed during [known_from, known_to); `known_to` None: still so."""

    segment: Segment
    known_from: datetime
    known_to: datetime | None


def _recorded_at(event: RecordedEvent) -> datetime:
    return event.recorded_at


def deal_history(stream: Sequence[RecordedEvent]) -> list[KnownSegment]:
    """Every timeline segment a deal ever had, with when it was believed.

    `stream` is all of the deal's events (retractions included) in position order, along which
    `recorded_at` never decreases. Each distinct `recorded_at` is one step of knowledge; the
    timeline after each step comes from `timeline`'s fold. A step that only adds events at or
    after the latest instant known (the usual case) extends the fold instead of redoing it.
    """
    believed: dict[Segment, datetime] = {}
    history: list[KnownSegment] = []
    known: list[RecordedEvent] = []
    builder = TimelineBuilder()
    for recorded_at, step_events in groupby(stream, key=_recorded_at):
        step = list(step_events)
        known.extend(step)
        if _extends(builder, step):
            for event in sorted(step, key=order_key):
                builder.add(event)
        else:
            builder = TimelineBuilder()
            for event in visible(known, as_of=None, known_at=None):
                builder.add(event)
        now_believed = set(builder.segments())
        gone = [s for s in believed if s not in now_believed]
        history.extend(KnownSegment(s, believed.pop(s), recorded_at) for s in gone)
        for segment in now_believed:
            believed.setdefault(segment, recorded_at)
    history.extend(KnownSegment(segment, since, None) for segment, since in believed.items())
    return history


def _extends(builder: TimelineBuilder, step: list[RecordedEvent]) -> bool:
    """Whether folding `step` after what the builder holds keeps the contract order."""
    last = builder.last_event_at
    return last is not None and all(
        event.type != RETRACTION and event.occurred_at >= last for event in step
    )


def believed_at(
    history: Iterable[KnownSegment], as_of: datetime, known_at: datetime
) -> Segment | None:
    """The segment covering `as_of` as believed at `known_at` (None: the deal did not exist)."""
    for row in history:
        if (
            row.known_from <= known_at
            and (row.known_to is None or known_at < row.known_to)
            and row.segment.covers(as_of)
        ):
            return row.segment
    return None

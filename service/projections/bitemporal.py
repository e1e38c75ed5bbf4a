"""A deal's timeline across transaction time: what was believed about it, and when.

The read models store these rows so that any (`as_of`, `known_at`) question about a deal's stage
and owner is one lookup: the segment covering `as_of` among those believed at `known_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from service.events.recorded import RecordedEvent
from service.events.vocabulary import RETRACTION
from service.projections.knowledge import order_key, visible
from service.projections.timeline import Segment, SegmentRow, TimelineBuilder


@dataclass(frozen=True, slots=True)
class KnownSegment:
    """A timeline segment believed during [known_from, known_to); `known_to` None: still so."""

    segment: Segment
    known_from: datetime
    known_to: datetime | None


def deal_history(stream: Sequence[RecordedEvent]) -> list[KnownSegment]:
    """Every timeline segment a deal ever had, with when it was believed.

    `stream` is all of the deal's events (retractions included) in position order, along which
    `recorded_at` never decreases. Each distinct `recorded_at` is one step of knowledge; the
    timeline after each step comes from `timeline`'s fold. A step that only adds events at or
    after the latest instant known (the usual case) extends the fold instead of redoing it.
    """
    # Segments are compared as plain tuples (equal exactly when the `Segment`s are) and made
    # into `Segment`s once, when their row is written: this runs once per step of every deal.
    believed: dict[SegmentRow, datetime] = {}
    history: list[KnownSegment] = []
    current: list[SegmentRow] = []
    builder = TimelineBuilder()
    count = len(stream)
    index = 0
    while index < count:
        recorded_at = stream[index].recorded_at
        end = index + 1
        while end < count and stream[end].recorded_at == recorded_at:
            end += 1
        step = stream[index:end]
        if _extends(builder, step):
            if len(step) > 1:
                step = sorted(step, key=order_key)
            for event in step:
                builder.add(event)
        else:
            builder = TimelineBuilder()
            for event in visible(stream[:end], as_of=None, known_at=None):
                builder.add(event)
        index = end
        rows = builder.rows()
        if rows == current:
            continue
        now_believed = set(rows)
        history.extend(
            KnownSegment(Segment(*row), believed.pop(row), recorded_at)
            for row in current
            if row not in now_believed
        )
        for row in rows:
            if row not in believed:
                believed[row] = recorded_at
        current = rows
    history.extend(KnownSegment(Segment(*row), since, None) for row, since in believed.items())
    return history


def _extends(builder: TimelineBuilder, step: Sequence[RecordedEvent]) -> bool:
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

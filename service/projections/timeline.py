"""A deal's valid-time timeline: its (stage, owner) between the instants its events occurred."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from service.events.recorded import RecordedEvent
from service.projections.deal import DealFold


@dataclass(frozen=True, slots=True)
class Segment:
    """The deal's stage and owner over [valid_from, valid_to); `valid_to` None: still open."""

    valid_from: datetime
    valid_to: datetime | None
    stage: str | None
    owner_rep_id: str | None

    def covers(self, instant: datetime) -> bool:
        """Whether `instant` falls in [valid_from, valid_to)."""
        return self.valid_from <= instant and (self.valid_to is None or instant < self.valid_to)


SegmentRow = tuple[datetime, datetime | None, str | None, str | None]
"""A segment's fields in `Segment` order: (valid_from, valid_to, stage, owner_rep_id)."""


class TimelineBuilder:
    """Folds a deal's visible events, in order, into its timeline; later events may be added."""

    def __init__(self) -> None:
        self._starts: list[tuple[datetime, str | None, str | None]] = []
        self._fold = DealFold()

    @property
    def last_event_at(self) -> datetime | None:
        """The latest instant taken in (None before the first event)."""
        return self._fold.last_event_at

    def add(self, event: RecordedEvent) -> None:
        """Take in the next event; it must not come before the last one in contract order."""
        fold = self._fold
        # In order, `last_event_at` is the instant whose events the fold has taken in so far.
        last = fold.last_event_at
        if last is not None and event.occurred_at != last:
            _close_instant(self._starts, last, fold.stage, fold.owner_rep_id)
        fold.add(event)

    def segments(self) -> tuple[Segment, ...]:
        """The timeline of the events taken in so far."""
        return tuple(Segment(*row) for row in self.rows())

    def rows(self) -> list[SegmentRow]:
        """The timeline so far as plain tuples, field for field equal to `segments`."""
        starts = self._starts
        fold = self._fold
        last = fold.last_event_at
        if last is not None:
            stage, owner = fold.stage, fold.owner_rep_id
            if not starts or starts[-1][1] != stage or starts[-1][2] != owner:
                starts = [*starts, (last, stage, owner)]
        if not starts:
            return []
        # Each segment ends where the next begins; the last one is still open.
        rows: list[SegmentRow] = [
            (start[0], after[0], start[1], start[2]) for start, after in pairwise(starts)
        ]
        final = starts[-1]
        rows.append((final[0], None, final[1], final[2]))
        return rows


def timeline(events_ordered: Iterable[RecordedEvent]) -> tuple[Segment, ...]:
    """The segments of a deal from its visible, ordered events, by the same `evolve` as `fold`.

    A boundary falls only at an instant after whose events (all of them) stage or owner differ.
    """
    builder = TimelineBuilder()
    for event in events_ordered:
        builder.add(event)
    return builder.segments()


def _close_instant(
    starts: list[tuple[datetime, str | None, str | None]],
    instant: datetime,
    stage: str | None,
    owner: str | None,
) -> None:
    # Equal neighbours are merged: a segment changes only when stage or owner does.
    if not starts or starts[-1][1:] != (stage, owner):
        starts.append((instant, stage, owner))


def _valid_from(segment: Segment) -> datetime:
    return segment.valid_from


def segment_at(segments: Sequence[Segment], instant: datetime) -> Segment | None:
    """The segment covering `instant`, or None before the deal's first event."""
    index = bisect_right(segments, instant, key=_valid_from)
    return segments[index - 1] if index else None

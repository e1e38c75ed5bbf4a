"""A deal's timeline across transaction time: what was believed about it, and when.

The read models store these rows so that any (`as_of`, `known_at`) question about a deal's stage
and owner is one lookup: the segment covering `as_of` among those believed at `known_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
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
    history = DealHistory()
    history.extend(stream)
    return history.segments()


class DealHistory:
    """`deal_history` that can be resumed: the stream is taken in part by part, and
    `segments()` after any part equals `deal_history` of the stream taken in so far.

    The projector keeps one per recently touched deal between rounds, so a round folds only a
    deal's new events instead of its whole stream read back from the log. It keeps them
    without their streams (`drop_stream`): most new events only extend the fold, and a part
    that would need the earlier events (a late event, a retraction, more of the step the last
    part ended in) is refused, to be folded from the stream read again.
    """

    __slots__ = ("_believed", "_builder", "_count", "_current", "_ended", "_last_step", "_stream")

    def __init__(self) -> None:
        self._reset([])

    def _reset(self, stream: list[RecordedEvent]) -> None:
        self._stream: list[RecordedEvent] | None = stream
        self._count = 0
        self._last_step: datetime | None = None
        # Segments are compared as plain tuples (equal exactly when the `Segment`s are) and made
        # into `Segment`s once, when their row is written: this runs once per step of every deal.
        self._believed: dict[SegmentRow, datetime] = {}
        self._ended: list[KnownSegment] = []
        self._current: list[SegmentRow] = []
        self._builder = TimelineBuilder()

    def __len__(self) -> int:
        """How many events of the stream it has taken in."""
        return self._count

    def drop_stream(self) -> None:
        """Stop holding the events taken in (only what the history needs to go on stays)."""
        self._stream = None

    def extend(self, events: Sequence[RecordedEvent]) -> bool:
        """Take in the next events of the stream (positions after every one taken in).

        False, and nothing taken in, when the stream was dropped and these events need it.
        """
        if not events:
            return True
        stream = self._stream
        goes_on = events[0].recorded_at == self._last_step
        if stream is None:
            if goes_on or not self._only_extend(events):
                return False
            self._fold(events, 0)
        elif goes_on:
            # The last step goes on in these events: a step is folded whole, so fold it all again.
            self._reset([*stream, *events])
            self._fold(self._stream or [], 0)
        else:
            start = len(stream)
            stream.extend(events)
            self._fold(stream, start)
        return True

    def segments(self) -> list[KnownSegment]:
        """Every segment so far: the ended ones, then those still believed."""
        return [
            *self._ended,
            *(KnownSegment(Segment(*row), since, None) for row, since in self._believed.items()),
        ]

    def _only_extend(self, events: Sequence[RecordedEvent]) -> bool:
        """Whether every step of `events` extends the fold (`_extends`), one after the other."""
        last = self._builder.last_event_at
        if last is None:
            return False
        for step in _steps(events):
            if any(event.type == RETRACTION or event.occurred_at < last for event in step):
                return False
            last = max(last, *(event.occurred_at for event in step))
        return True

    def _fold(self, stream: Sequence[RecordedEvent], index: int) -> None:
        """Fold the steps of `stream` from `index` on (the stream before it is folded)."""
        believed = self._believed
        ended = self._ended
        current = self._current
        builder = self._builder
        self._count += len(stream) - index
        end = index
        for step in _steps(stream, index):
            end += len(step)
            recorded_at = step[0].recorded_at
            if _extends(builder, step):
                for event in sorted(step, key=order_key) if len(step) > 1 else step:
                    builder.add(event)
            else:
                builder = TimelineBuilder()
                for event in visible(stream[:end], as_of=None, known_at=None):
                    builder.add(event)
            self._last_step = recorded_at
            rows = builder.rows()
            if rows == current:
                continue
            now_believed = set(rows)
            ended.extend(
                KnownSegment(Segment(*row), believed.pop(row), recorded_at)
                for row in current
                if row not in now_believed
            )
            for row in rows:
                if row not in believed:
                    believed[row] = recorded_at
            current = rows
        self._current = current
        self._builder = builder


def _steps(events: Sequence[RecordedEvent], index: int = 0) -> Iterator[Sequence[RecordedEvent]]:
    """Consecutive runs of `events` (from `index` on) that share a `recorded_at`: the steps of
    knowledge."""
    count = len(events)
    while index < count:
        end = index + 1
        while end < count and events[end].recorded_at == events[index].recorded_at:
            end += 1
        yield events[index:end]
        index = end


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

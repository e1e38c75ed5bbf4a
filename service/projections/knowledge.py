"""What is known: the events that exist at a transaction time, up to a valid time, in order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter

from service.events.recorded import RecordedEvent
from service.events.vocabulary import RETRACTION


def order_key(event: RecordedEvent) -> tuple[datetime, int]:
    """The contract's order: by `occurred_at`, ties broken by the stored order (`position`)."""
    return (event.occurred_at, event.position)


def sort_in_order(events: list[RecordedEvent]) -> None:
    """Sort `events` in place in the contract's order (`order_key`)."""
    # Two stable sorts on single attributes beat one sort on (datetime, int) tuples about 3x.
    events.sort(key=attrgetter("position"))
    events.sort(key=attrgetter("occurred_at"))


def retracted_keys(known: Iterable[RecordedEvent]) -> set[tuple[str, str]]:
    """The (source, id) keys named by the retractions among `known` events."""
    return {
        (event.data["event_source"], event.data["event_id"])
        for event in known
        if event.type == RETRACTION
    }


def visible(
    events: Iterable[RecordedEvent], *, as_of: datetime | None, known_at: datetime | None
) -> list[RecordedEvent]:
    """The events that count at (`as_of`, `known_at`), sorted by (`occurred_at`, `position`).

    Only events recorded by `known_at` exist; a retraction recorded by then removes its target
    at every valid time (its own `time` is irrelevant) and is never itself returned. `None`
    means no limit.
    """
    known = (
        list(events)
        if known_at is None
        else [event for event in events if event.recorded_at <= known_at]
    )
    gone = retracted_keys(known)
    kept = [
        event
        for event in known
        if event.type != RETRACTION
        and (event.source, event.id) not in gone
        and (as_of is None or event.occurred_at <= as_of)
    ]
    sort_in_order(kept)
    return kept

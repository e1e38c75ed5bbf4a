"""Which team a rep belongs to, over valid time."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from service.events.recorded import RecordedEvent
from service.events.vocabulary import REP_SUBJECT_PREFIX, TEAM_ASSIGNMENT
from service.projections.knowledge import sort_in_order

TeamHistory = dict[str, list[tuple[datetime, str]]]
"""rep_id → its team assignments as (valid_from, team_id), in contract order."""


def team_history(events: Iterable[RecordedEvent]) -> TeamHistory:
    """The team assignments per rep from visible events (see `visible`); others are ignored."""
    assignments = [
        event
        for event in events
        if event.type == TEAM_ASSIGNMENT and event.subject.startswith(REP_SUBJECT_PREFIX)
    ]
    sort_in_order(assignments)
    history: TeamHistory = {}
    for event in assignments:
        rep_id = event.subject[len(REP_SUBJECT_PREFIX) :]
        history.setdefault(rep_id, []).append((event.occurred_at, event.data["team_id"]))
    return history


def _valid_from(assignment: tuple[datetime, str]) -> datetime:
    return assignment[0]


def team_at(
    history: Mapping[str, Sequence[tuple[datetime, str]]], rep_id: str | None, instant: datetime
) -> str | None:
    """The rep's team at `instant`: that of its latest assignment from then or before, else None."""
    if rep_id is None:
        return None
    assignments = history.get(rep_id)
    if not assignments:
        return None
    # bisect_right lands after equal instants, so the last-stored assignment of an instant wins.
    index = bisect_right(assignments, instant, key=_valid_from)
    return assignments[index - 1][1] if index else None

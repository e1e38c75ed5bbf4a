"""Reps' names and active flags over valid time, from `rep.profile_set` events.

A profile holds from its event's `time` until the rep's next one; of several at one instant
the last stored wins, as for team assignments. A scoreboard row by rep takes the profile in
force at the end of its period.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from service.events.recorded import RecordedEvent
from service.events.vocabulary import PROFILE_SET, REP_SUBJECT_PREFIX
from service.projections.knowledge import sort_in_order
from service.projections.rules import just_before
from service.projections.scoreboard import Scoreboard


@dataclass(frozen=True, slots=True)
class RepProfile:
    """What a rep is called and whether they still work here."""

    name: str
    email: str | None
    active: bool


ProfileHistory = dict[str, list[tuple[datetime, RepProfile]]]
"""rep_id → its profiles as (valid_from, profile), in contract order."""


def profile_history(events: Iterable[RecordedEvent]) -> ProfileHistory:
    """The profiles per rep from visible events (see `visible`); other events are ignored."""
    chosen = [
        event
        for event in events
        if event.type == PROFILE_SET and event.subject.startswith(REP_SUBJECT_PREFIX)
    ]
    sort_in_order(chosen)
    history: ProfileHistory = {}
    for event in chosen:
        rep_id = event.subject[len(REP_SUBJECT_PREFIX) :]
        data = event.data
        profile = RepProfile(data["name"], data.get("email"), data.get("active", True))
        history.setdefault(rep_id, []).append((event.occurred_at, profile))
    return history


def _valid_from(entry: tuple[datetime, RepProfile]) -> datetime:
    return entry[0]


def profile_at(history: ProfileHistory, rep_id: str | None, instant: datetime) -> RepProfile | None:
    """The rep's profile at `instant`: its latest from then or before, else None."""
    entries = history.get(rep_id) if rep_id is not None else None
    if not entries:
        return None
    index = bisect_right(entries, instant, key=_valid_from)
    return entries[index - 1][1] if index else None


def with_profiles(board: Scoreboard, history: ProfileHistory) -> Scoreboard:
    """A board by rep with each row's profile at the period's end; other boards as they are."""
    if board.group_by != "rep":
        return board
    last_instant = just_before(board.end)
    rows = tuple(
        dataclasses.replace(row, profile=profile_at(history, row.key, last_instant))
        for row in board.rows
    )
    return dataclasses.replace(board, rows=rows)


def without_idle_inactive(board: Scoreboard) -> Scoreboard:
    """The board without rows of reps inactive at the period's end that have no numbers."""
    rows = tuple(
        row
        for row in board.rows
        if row.profile is None or row.profile.active or not row.numbers.is_zero()
    )
    return dataclasses.replace(board, rows=rows)

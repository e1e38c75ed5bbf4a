"""Targets and team priorities over valid time: what a rep or team aims at, from when."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from service.events.recorded import RecordedEvent
from service.events.vocabulary import (
    CALENDAR_DAY_SET,
    PRIORITIES_SET,
    TARGET_SET,
    TEAM_SUBJECT_PREFIX,
)
from service.projections.knowledge import sort_in_order

METRICS = ("closed_deals", "committed_deals", "opportunities", "leads", "client_visits", "calls")
"""The numbers a target can be set for, in contract order: the five, then calls."""


@dataclass(frozen=True, slots=True)
class Target:
    """A target of a rep or team (`subject`) for one metric, per `period`, from `valid_from` on."""

    subject: str
    metric: str
    period: str
    value: Decimal
    valid_from: datetime


@dataclass(frozen=True, slots=True)
class Priorities:
    """A team's metrics, most important first, from `valid_from` on."""

    team_id: str
    metrics: tuple[str, ...]
    valid_from: datetime


@dataclass(frozen=True, slots=True)
class DayDeclared:
    """A date of the company calendar declared working or not, from `valid_from` on."""

    day: date
    working: bool
    name: str | None
    valid_from: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """Every known target, priority list and calendar declaration, each in contract order."""

    targets: dict[tuple[str, str], list[Target]] = field(default_factory=dict)
    priorities: dict[str, list[Priorities]] = field(default_factory=dict)
    calendar: list[DayDeclared] = field(default_factory=list)

    def subjects(self, prefix: str) -> list[str]:
        """The rep or team subjects (by `prefix`) that ever had a target."""
        return sorted({subject for subject, _ in self.targets if subject.startswith(prefix)})


def plan(events: Iterable[RecordedEvent]) -> Plan:
    """The targets, priorities and calendar declarations among visible events (see `visible`);
    others are ignored."""
    chosen = [
        event for event in events if event.type in (TARGET_SET, PRIORITIES_SET, CALENDAR_DAY_SET)
    ]
    sort_in_order(chosen)
    result = Plan()
    for event in chosen:
        if event.type == TARGET_SET:
            target = Target(
                subject=event.subject,
                metric=event.data["metric"],
                period=event.data["period"],
                value=Decimal(str(event.data["value"])),
                valid_from=event.occurred_at,
            )
            result.targets.setdefault((target.subject, target.metric), []).append(target)
        elif event.type == CALENDAR_DAY_SET:
            day = date.fromisoformat(event.data["date"])
            name = event.data.get("name")
            result.calendar.append(
                DayDeclared(day, bool(event.data["working"]), name, event.occurred_at)
            )
        elif event.subject.startswith(TEAM_SUBJECT_PREFIX):
            team_id = event.subject[len(TEAM_SUBJECT_PREFIX) :]
            metrics = tuple(event.data["metrics"])
            entry = Priorities(team_id, metrics, event.occurred_at)
            result.priorities.setdefault(team_id, []).append(entry)
    return result


_Entry = TypeVar("_Entry", Target, Priorities)


def _latest(entries: Sequence[_Entry], instant: datetime) -> _Entry | None:
    # bisect_right lands after equal instants: the last-stored entry of an instant wins.
    index = bisect_right(entries, instant, key=lambda entry: entry.valid_from)
    return entries[index - 1] if index else None


def target_at(known: Plan, subject: str, metric: str, instant: datetime) -> Target | None:
    """The target of `subject` for `metric` in force at `instant`: the latest set by then."""
    return _latest(known.targets.get((subject, metric), ()), instant)


def priorities_entry_at(known: Plan, team_id: str, instant: datetime) -> Priorities | None:
    """The team's priority list in force at `instant`: the latest set by then."""
    return _latest(known.priorities.get(team_id, ()), instant)


def priorities_at(known: Plan, team_id: str | None, instant: datetime) -> tuple[str, ...] | None:
    """The team's priorities in force at `instant`, or None when it has none."""
    entry = None if team_id is None else priorities_entry_at(known, team_id, instant)
    return None if entry is None else entry.metrics

"""Funnel analytics from deal timelines: time in stage, cohort conversion, win rate, waterfall.

Every analytic takes each deal's stage path (its stages over valid time, as known at some
`known_at`, up to `as_of`) and a window; docs/analytics.md gives the definitions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from itertools import groupby, pairwise
from typing import Any, Final

from service.events.recorded import RecordedEvent
from service.projections.deal import STAGES, deal_states, is_deal
from service.projections.knowledge import visible
from service.projections.rules import RULES, Stage, just_before
from service.projections.teams import TeamHistory, team_at
from service.projections.timeline import Segment, timeline

_MICROSECOND: Final = timedelta(microseconds=1)
FUNNEL: Final = RULES.funnel_stages
"""The stages a deal advances through, in order, up to won; the exits are not among them."""
OPEN_STAGES: Final = tuple(stage for stage in FUNNEL if stage != Stage.WON)
CLOSED_STAGES: Final = (Stage.WON, *RULES.exit_stages)
_SOURCED: Final = RULES.kind_of("leads").event_types
_RANK: Final = {stage: rank for rank, stage in enumerate(FUNNEL)}

Step = tuple[datetime, str]
"""A deal entered `stage` at the instant: one step of its stage path."""
StagePath = tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """A period [start, end) looked at from `as_of`: nothing after `as_of` is seen."""

    start: datetime
    end: datetime
    as_of: datetime

    @property
    def last(self) -> datetime:
        """The last instant the window sees: just before `end`, or `as_of` if earlier."""
        return min(just_before(self.end), self.as_of)


def stage_path(segments: Iterable[Segment]) -> StagePath:
    """A deal's stage changes from its timeline segments (owner changes and no stage dropped)."""
    steps: list[Step] = []
    for segment in segments:
        if segment.stage is not None and (not steps or steps[-1][1] != segment.stage):
            steps.append((segment.valid_from, segment.stage))
    return tuple(steps)


def stage_paths(
    events: Iterable[RecordedEvent], *, as_of: datetime, known_at: datetime | None
) -> dict[str, StagePath]:
    """Every deal's stage path at (`as_of`, `known_at`), folded from raw events."""
    known = [
        event for event in visible(events, as_of=as_of, known_at=known_at) if is_deal(event.subject)
    ]
    # A stable sort by deal keeps each deal's events in the contract order `visible` gave them.
    known.sort(key=_subject)
    return {deal: stage_path(timeline(stream)) for deal, stream in groupby(known, key=_subject)}


def _subject(event: RecordedEvent) -> str:
    return event.subject


@dataclass(frozen=True, slots=True)
class DealScope:
    """Whose deals an analytic looks at: a rep's, a team's, both (a rep of that team), or all.

    A deal belongs to a rep by its owner at `as_of` (as known at `known_at`), and to a team by
    that owner's team at `as_of`, as the funnel's `rep_id` does.
    """

    rep_id: str | None = None
    team_id: str | None = None

    @property
    def everyone(self) -> bool:
        """Whether no filter is set: every deal counts."""
        return self.rep_id is None and self.team_id is None

    def holds(self, owner: str | None, teams: TeamHistory, as_of: datetime) -> bool:
        """Whether a deal owned by `owner` at `as_of` is in scope."""
        if self.rep_id is not None and owner != self.rep_id:
            return False
        return self.team_id is None or team_at(teams, owner, as_of) == self.team_id


EVERY_DEAL: Final = DealScope()
"""No filter: every deal counts."""


def deal_owners(
    events: Iterable[RecordedEvent], *, as_of: datetime, known_at: datetime | None
) -> dict[str, str | None]:
    """Every deal's owner at (`as_of`, `known_at`), folded from raw events (None: no owner yet)."""
    states = deal_states(visible(events, as_of=as_of, known_at=known_at))
    return {deal: state.owner_rep_id for deal, state in states.items()}


def deals_in_scope(
    owners: Mapping[str, str | None], teams: TeamHistory, scope: DealScope, as_of: datetime
) -> set[str]:
    """The deals of `owners` that `scope` holds, by their owner at `as_of`."""
    return {deal for deal, owner in owners.items() if scope.holds(owner, teams, as_of)}


def sourced_cohort(
    events: Iterable[RecordedEvent], window: Window, known_at: datetime | None
) -> set[str]:
    """The deals with a counting `lead.sourced` in the window (contract §5's `leads`, all reps)."""
    return {
        event.subject
        for event in visible(events, as_of=window.as_of, known_at=known_at)
        if event.type in _SOURCED
        and is_deal(event.subject)
        and window.start <= event.occurred_at <= window.last
    }


def _stage_at(path: StagePath, instant: datetime) -> Step | None:
    index = bisect_right(path, instant, key=lambda step: step[0])
    return path[index - 1] if index else None


def _percentile(ordered: Sequence[int], fraction: Fraction) -> Fraction:
    """Linear interpolation between closest ranks (as PostgreSQL's `percentile_cont`)."""
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds(microseconds: Fraction | None) -> float | None:
    return None if microseconds is None else float(round(microseconds / 1_000_000, 3))


def _stay_summary(durations: list[int]) -> dict[str, Any]:
    durations.sort()
    median = _percentile(durations, Fraction(1, 2)) if durations else None
    p90 = _percentile(durations, Fraction(9, 10)) if durations else None
    return {
        "stays": len(durations),
        "median_seconds": _seconds(median),
        "p90_seconds": _seconds(p90),
    }


def time_in_stage(paths: Mapping[str, StagePath], window: Window) -> dict[str, dict[str, Any]]:
    """Per stage: the stays that ended in the window, their count, median and p90 in seconds."""
    stays: dict[str, list[int]] = {stage: [] for stage in STAGES}
    for path in paths.values():
        for (entered, stage), (left, _) in pairwise(path):
            if window.start <= left <= window.last:
                stays[stage].append((left - entered) // _MICROSECOND)
    return {stage: _stay_summary(durations) for stage, durations in stays.items()}


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


def conversion(paths: Mapping[str, StagePath], cohort: Iterable[str]) -> dict[str, Any]:
    """How far a cohort of leads got by `as_of`: deals reaching each funnel stage or beyond."""
    reached = dict.fromkeys(FUNNEL, 0)
    outcome = dict.fromkeys(("open", *CLOSED_STAGES), 0)
    size = 0
    for deal in cohort:
        size += 1
        path = paths.get(deal, ())
        best = max((_RANK[stage] for _, stage in path if stage in _RANK), default=0)
        for stage in FUNNEL[: best + 1]:
            reached[stage] += 1
        current = path[-1][1] if path else Stage.LEAD
        outcome[current if current in CLOSED_STAGES else "open"] += 1
    steps = [
        {
            "from": low,
            "to": high,
            "entered": reached[low],
            "converted": reached[high],
            "rate": _rate(reached[high], reached[low]),
        }
        for low, high in pairwise(FUNNEL)
    ]
    return {"cohort": size, "reached": reached, "steps": steps, "outcome": outcome}


def win_rate(paths: Mapping[str, StagePath], window: Window) -> dict[str, Any]:
    """Deals closed in the window (won, lost or disqualified then), and won ÷ (won + lost)."""
    closed = dict.fromkeys(CLOSED_STAGES, 0)
    for path in paths.values():
        step = _stage_at(path, window.last)
        if step is not None and step[1] in closed and window.start <= step[0]:
            closed[step[1]] += 1
    won, lost = closed[Stage.WON], closed[Stage.LOST]
    return {**closed, "win_rate": _rate(won, won + lost)}


def _movement(before: str | None, after: str | None) -> str | None:
    if before is None:
        return None if after is None else "new"
    if before not in OPEN_STAGES:
        return "reopened" if after in OPEN_STAGES else None
    if after is None or after in CLOSED_STAGES:
        return after
    if after == before:
        return "still_open"
    return "advanced" if _RANK[after] > _RANK[before] else "moved_back"


def waterfall(paths: Mapping[str, StagePath], window: Window) -> dict[str, Any]:
    """How the open pipeline just before `start` became the one at the window's last instant."""
    moves = dict.fromkeys(
        ("new", "advanced", "moved_back", "still_open", *CLOSED_STAGES, "reopened"), 0
    )
    new_by_stage = dict.fromkeys(STAGES, 0)
    start_open = end_open = 0
    for path in paths.values():
        before = _stage_at(path, just_before(window.start))
        # An `as_of` before the window sees no movement: the end state is the start state.
        after = _stage_at(path, max(window.last, just_before(window.start)))
        stage_before = None if before is None else before[1]
        stage_after = None if after is None else after[1]
        start_open += stage_before in OPEN_STAGES
        end_open += stage_after in OPEN_STAGES
        move = _movement(stage_before, stage_after)
        if move is not None:
            moves[move] += 1
        if move == "new" and stage_after is not None:
            new_by_stage[stage_after] += 1
    return {"start_open": start_open, **moves, "new_by_stage": new_by_stage, "end_open": end_open}

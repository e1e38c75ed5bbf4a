"""The one-on-one: a rep's numbers and weekly trend, and their open deals against the team's
usual time in each stage, all read from one snapshot of the read models."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from service.application.consistent_reads import snapshot
from service.application.deal_folds import FoldedDeal, fold_deals, open_deal_ids
from service.application.meeting_cache import page_key
from service.application.scoreboards import recorded_at_position, scoreboard_with_targets
from service.application.services import Services
from service.projections.analytics import FUNNEL, Window, time_in_stage
from service.projections.profiles import profile_at
from service.projections.rules import Stage, just_before
from service.projections.scoreboard import Scoreboard, ScoreRow, zero_numbers
from service.store.queries import analytics as analytics_query
from service.store.queries.profiles import profile_history_known_at
from service.store.queries.reps import rep_is_known

Span = tuple[datetime, datetime]
"""A period [from, to)."""


@dataclass(frozen=True, slots=True)
class MeetingWindow:
    """What a meeting page reads: the period to date [start, end), the as-of instant (the end
    of the as-of day), `known_at`, the weeks of the trend, and where the window of the usual
    stage times starts (it ends with the period)."""

    start: datetime
    end: datetime
    as_of: datetime
    known_at: datetime
    weeks: tuple[Span, ...]
    usual_start: datetime


@dataclass(frozen=True, slots=True)
class DealInStage:
    """An open deal, how long it has been in its stage, and the team's usual time there."""

    deal: FoldedDeal
    seconds_in_stage: float
    usual_seconds: float | None
    """The median of the stays in the deal's stage that ended in the usual-time window."""

    @property
    def overdue(self) -> bool:
        """Whether the deal has been in its stage longer than usual."""
        return self.usual_seconds is not None and self.seconds_in_stage > self.usual_seconds

    @property
    def at_risk(self) -> bool:
        """Committed by the EB for longer than usual: the EB may leave before the committee."""
        return self.overdue and self.deal.state.stage == Stage.EB_COMMITTED


@dataclass(frozen=True, slots=True)
class OneOnOne:
    """A rep's page: the rep's scoreboard row of the period (as `/v1/scoreboard` has it), one
    row per week of the trend, the open deals (at risk first) and the usual stage times."""

    rep_id: str
    name: str | None
    row: dict[str, Any]
    weeks: list[tuple[Span, dict[str, Any]]]
    deals: list[DealInStage]
    usual: dict[str, dict[str, Any]]
    position: int


def rep_row(board: Scoreboard, rep_id: str) -> dict[str, Any]:
    """The rep's row of a board by rep in its API shape; all zeros when the rep has none."""
    row = next((row for row in board.rows if row.key == rep_id), None)
    chosen = row if row is not None else ScoreRow(rep_id, zero_numbers())
    return chosen.to_json(named=True)


_RANK = {stage: rank for rank, stage in enumerate(FUNNEL)}


def _order(item: DealInStage) -> tuple[bool, int, float, str]:
    """At risk first, then the furthest stage, then the longest in it."""
    stage = item.deal.state.stage or ""
    return (not item.at_risk, -_RANK.get(stage, 0), -item.seconds_in_stage, item.deal.state.deal_id)


def _in_stage(deal: FoldedDeal, as_of: datetime, usual: dict[str, dict[str, Any]]) -> DealInStage:
    entered = deal.state.stage_entered_at or deal.state.first_event_at
    median = usual.get(deal.state.stage or "", {}).get("median_seconds")
    return DealInStage(deal, (as_of - entered).total_seconds(), median)


async def read_one_on_one(
    services: Services, rep_id: str, window: MeetingWindow
) -> OneOnOne | None:
    """The rep's one-on-one; None when the service knows no such rep."""
    known_at, as_of = window.known_at, window.as_of
    async with snapshot(services, replica=True) as snap:
        if not await rep_is_known(snap.conn, rep_id):
            return None
        newest = await recorded_at_position(snap.conn, snap.position)
        where = partial(
            page_key, known_at=known_at, position=snap.position, newest_recorded_at=newest
        )
        key = where("one_on_one", rep_id, window)
        kept: OneOnOne | None = services.meetings.get(key)
        if kept is not None:
            return kept
        usual_key = where("usual", window.usual_start, window.end, as_of)
        usual: dict[str, dict[str, Any]] | None = services.meetings.get(usual_key)

        async def board(start: datetime, end: datetime) -> Scoreboard:
            return await scoreboard_with_targets(
                snap.conn,
                start=start,
                end=end,
                known_at=known_at,
                group_by="rep",
                zone=services.settings.zone,
                position=snap.position,
                complete=snap.complete,
                cache=services.boards,
                mirror=services.mirror,
            )

        period = await board(window.start, window.end)
        weeks = [((a, b), rep_row(await board(a, b), rep_id)) for a, b in window.weeks]
        ids = await open_deal_ids(snap.conn, as_of=as_of, known_at=known_at, owner=rep_id)
        if usual is None:
            # The team's usual stage times, shared by every rep's page of this window.
            paths = await analytics_query.stage_paths(snap.conn, as_of=as_of, known_at=known_at)
            usual_window = Window(window.usual_start, window.end, as_of)
            usual = await asyncio.to_thread(time_in_stage, paths, usual_window)
            services.meetings.put(usual_key, usual)
        profiles = await profile_history_known_at(snap.conn, known_at)
        position = snap.position
    folded = await fold_deals(services, ids, as_of=as_of, known_at=known_at)
    deals = sorted((_in_stage(deal, as_of, usual) for deal in folded), key=_order)
    profile = profile_at(profiles, rep_id, just_before(window.end))
    meeting = OneOnOne(
        rep_id=rep_id,
        name=None if profile is None else profile.name,
        row=rep_row(period, rep_id),
        weeks=weeks,
        deals=deals,
        usual=usual,
        position=position,
    )
    services.meetings.put(key, meeting)
    return meeting

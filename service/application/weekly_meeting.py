"""The weekly meeting: the team's numbers week by week, this week against last week and the
quarter to date, the open pipeline's value per stage, and the deals that moved this week, all
read from one snapshot of the read models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from service.application.consistent_reads import snapshot
from service.application.deal_folds import fold_deals, open_deal_ids
from service.application.meeting_cache import page_key
from service.application.one_on_one import MeetingWindow, Span
from service.application.scoreboards import recorded_at_position, scoreboard_with_targets
from service.application.services import Services
from service.projections.analytics import OPEN_STAGES
from service.projections.profiles import profile_at
from service.projections.rules import RULES, Stage
from service.projections.scoreboard import GroupBy, Scoreboard
from service.store.queries import analytics as analytics_query
from service.store.queries.movements import deals_in_stage_from, moved_deals
from service.store.queries.profiles import profile_history_known_at

MOVES: Final = ("won", "lost", "committed", "qualified")
"""What a deal can do in a week that the meeting talks about, in the order listed."""
_KIND_MOVES: Final = {
    RULES.money_kind.name: "won",
    RULES.kind_of("committed_deals").name: "committed",
    RULES.kind_of("opportunities").name: "qualified",
}
"""Flow kinds whose counting facts are moves: signed, approved by the committee, qualified."""


@dataclass(frozen=True, slots=True)
class StageValue:
    """The open deals in one stage at the as-of instant and their amounts per currency."""

    stage: str
    deals: int
    value: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class Move:
    """A deal that moved this week: what it did, when, and its account, owner and amount then."""

    move: str
    deal_id: str
    occurred_at: datetime
    account: str | None
    owner_rep_id: str | None
    owner_name: str | None
    amount: str | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class WeeklyMeeting:
    """The weekly meeting's numbers: totals per week (the last is this week to date), the
    quarter to date's totals, the pipeline by stage and this week's moves."""

    weeks: list[tuple[Span, dict[str, Any]]]
    quarter: dict[str, Any]
    pipeline: list[StageValue]
    moves: list[Move]
    position: int


def _pipeline(deals: list[tuple[str, str | None, str | None]]) -> list[StageValue]:
    """Count and sum (stage, amount, currency) per open stage, in funnel order."""
    counts = dict.fromkeys(OPEN_STAGES, 0)
    values: dict[str, dict[str, Decimal]] = {stage: {} for stage in OPEN_STAGES}
    for stage, amount, currency in deals:
        counts[stage] += 1
        if amount is not None and currency is not None:
            values[stage][currency] = values[stage].get(currency, Decimal(0)) + Decimal(amount)
    return [StageValue(stage, counts[stage], values[stage]) for stage in OPEN_STAGES]


def _lost_in(paths: dict[str, Any], start: datetime, end: datetime) -> dict[str, datetime]:
    """Deals that entered stage lost in [start, end): deal → the first such instant."""
    lost: dict[str, datetime] = {}
    for deal_id, path in paths.items():
        entered = [at for at, stage in path if stage == Stage.LOST and start <= at < end]
        if entered:
            lost[deal_id] = entered[0]
    return lost


async def read_weekly_meeting(
    services: Services, window: MeetingWindow, *, quarter_start: datetime, group_by: GroupBy
) -> WeeklyMeeting:
    """The weekly meeting's numbers; the week is the last of `window.weeks`, to date (kept in
    `services.meetings` by the window and the snapshot's position)."""
    known_at, as_of = window.known_at, window.as_of
    week_start, week_end = window.weeks[-1]
    async with snapshot(services, replica=True) as snap:
        key = page_key(
            "weekly",
            window.start,
            window.end,
            as_of,
            window.weeks,
            quarter_start,
            group_by,
            known_at=known_at,
            position=snap.position,
            newest_recorded_at=await recorded_at_position(snap.conn, snap.position),
        )
        kept: WeeklyMeeting | None = services.meetings.get(key)
        if kept is not None:
            return kept

        async def board(start: datetime, end: datetime) -> Scoreboard:
            return await scoreboard_with_targets(
                snap.conn,
                start=start,
                end=end,
                known_at=known_at,
                group_by=group_by,
                zone=services.settings.zone,
                position=snap.position,
                complete=snap.complete,
                cache=services.boards,
                mirror=services.mirror,
            )

        weeks = [((a, b), (await board(a, b)).totals.to_json()) for a, b in window.weeks]
        quarter = (await board(quarter_start, window.end)).totals.to_json()
        open_ids = await open_deal_ids(snap.conn, as_of=as_of, known_at=known_at)
        facts = await moved_deals(
            snap.conn, kinds=list(_KIND_MOVES), start=week_start, end=week_end, known_at=known_at
        )
        maybe_lost = await deals_in_stage_from(
            snap.conn, stage=Stage.LOST, start=week_start, end=week_end, known_at=known_at
        )
        paths = await analytics_query.stage_paths(
            snap.conn, as_of=as_of, known_at=known_at, deals=maybe_lost
        )
        profiles = await profile_history_known_at(snap.conn, known_at)
        position = snap.position
    folded = await fold_deals(services, open_ids, as_of=as_of, known_at=known_at, contacts=False)
    pipeline = _pipeline([(d.state.stage or "", d.state.amount, d.state.currency) for d in folded])
    happened = [(_KIND_MOVES[fact.kind], fact.deal_id, fact.occurred_at) for fact in facts]
    happened += [("lost", deal, at) for deal, at in _lost_in(paths, week_start, week_end).items()]
    moved_ids = list(dict.fromkeys(deal_id for _, deal_id, _ in happened))
    states = {
        deal.state.deal_id: deal.state
        for deal in await fold_deals(services, moved_ids, as_of=as_of, known_at=known_at)
    }
    moves = []
    for move, deal_id, at in sorted(happened, key=lambda m: (MOVES.index(m[0]), m[2], m[1])):
        state = states.get(deal_id)
        if state is None:
            continue
        owner = state.owner_rep_id
        profile = profile_at(profiles, owner, as_of)
        account = state.account.get("name") if state.account else None
        moves.append(
            Move(
                move=move,
                deal_id=deal_id,
                occurred_at=at,
                account=account,
                owner_rep_id=owner,
                owner_name=None if profile is None else profile.name,
                amount=state.amount,
                currency=state.currency,
            )
        )
    meeting = WeeklyMeeting(weeks, quarter, pipeline, moves, position)
    services.meetings.put(key, meeting)
    return meeting

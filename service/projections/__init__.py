"""Pure projections: the single fold that live reads, read models, rebuilds and audits all call."""

from service.projections.deal import (
    STAGES,
    DealState,
    deal_state_at,
    deal_states,
    evolve,
    fold,
    is_deal,
)
from service.projections.knowledge import order_key, retracted_keys, sort_in_order, visible
from service.projections.periods import parse_instant, parse_period, start_of
from service.projections.rules import RULES, Stage, just_before
from service.projections.scoreboard import (
    ALL_KEY,
    GroupBy,
    OpenNumbers,
    Scoreboard,
    ScoreboardFold,
    ScoreNumbers,
    ScoreRow,
    compute_funnel,
    compute_scoreboard,
)
from service.projections.teams import TeamHistory, team_at, team_history
from service.projections.timeline import Segment, segment_at, timeline

__all__ = [
    "ALL_KEY",
    "RULES",
    "STAGES",
    "DealState",
    "GroupBy",
    "OpenNumbers",
    "ScoreNumbers",
    "ScoreRow",
    "Scoreboard",
    "ScoreboardFold",
    "Segment",
    "Stage",
    "TeamHistory",
    "compute_funnel",
    "compute_scoreboard",
    "deal_state_at",
    "deal_states",
    "evolve",
    "fold",
    "is_deal",
    "just_before",
    "order_key",
    "parse_instant",
    "parse_period",
    "retracted_keys",
    "segment_at",
    "sort_in_order",
    "start_of",
    "team_at",
    "team_history",
    "timeline",
    "visible",
]

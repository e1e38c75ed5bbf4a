"""The rules of the funnel and of the five numbers, declared once (contract §3-§5).

Every reader takes its values from `RULES`: the deal fold (stage effects), the scoreboard fold
(flow kinds, open groups), the SQL read models and the in-memory copy (statements and codes
built from it at import), the API's stage types and the charts (held to it by tests), the
reporting views (through the `rules` tables that a migration seeds from it) and
docs/read-models.md (a generated table); `service.projections.rule_text` renders it for both.
A new stage, or a new event type that moves a deal or counts in a number, is an edit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

_MICROSECOND: Final = timedelta(microseconds=1)


def just_before(instant: datetime) -> datetime:
    """The last instant before `instant`: the end of a half-open period, or of a day, as a point.

    Instants are kept to the microsecond (Python and PostgreSQL alike), so nothing lies between.
    """
    return instant - _MICROSECOND


@dataclass(frozen=True, slots=True)
class StageRule:
    """A stage a deal can be in: its name, its English label and chart colour, and whether it is
    an exit (a deal there has left the funnel without being won)."""

    name: str
    label: str
    colour: str
    exit: bool = False


@dataclass(frozen=True, slots=True)
class StageEffect:
    """What an event does to its deal's stage: enter `to`; with `only_from`, only from there."""

    to: str
    only_from: str | None = None

    def applies(self, stage: str | None) -> bool:
        """Whether the effect moves a deal that is in `stage` (re-entering counts as moving)."""
        return self.only_from is None or stage == self.only_from


@dataclass(frozen=True, slots=True)
class FlowKind:
    """A kind of flow: the events that count as it, and the number they count in.

    `name` is the kind stored in the read models and shown by `reporting.flow_facts`. A kind
    counts distinct deals unless `per_event`; `money` names the kind whose amounts make up
    `closed_value`; `split_field` names the data field whose values split the count (`SPLIT`).
    """

    name: str
    number: str
    event_types: tuple[str, ...]
    per_event: bool = False
    money: bool = False
    split_field: str | None = None


@dataclass(frozen=True, slots=True)
class OpenGroup:
    """An open number: the deals whose stage, at the end of the period, is among `stages`."""

    number: str
    stages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleTable:
    """Stages in funnel order, stage effects, flow kinds, the visit split and the open groups."""

    stages: tuple[StageRule, ...]
    effects: Mapping[str, StageEffect]
    flows: tuple[FlowKind, ...]
    split: Mapping[str, str]
    """Each value of the split kind's `split_field` and the number it counts in."""
    open_groups: tuple[OpenGroup, ...]

    def __post_init__(self) -> None:
        names = self.stage_names
        if len(set(names)) != len(names):
            raise ValueError("a stage is listed twice")
        for event_type, effect in self.effects.items():
            if effect.to not in names or effect.only_from not in (None, *names):
                raise ValueError(f"{event_type!r} names an unknown stage")
        for group in self.open_groups:
            if not set(group.stages) <= set(names):
                raise ValueError(f"{group.number!r} names an unknown stage")
        types = [event_type for flow in self.flows for event_type in flow.event_types]
        if len(set(types)) != len(types):
            raise ValueError("an event type counts as two kinds")
        if [flow.money for flow in self.flows].count(True) != 1:
            raise ValueError("exactly one kind carries the money")
        if [flow.split_field is not None for flow in self.flows].count(True) != 1:
            raise ValueError("exactly one kind is split")
        if any(flow.per_event != (flow.split_field is not None) for flow in self.flows):
            raise ValueError("the split kind, and only it, counts events")

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Every stage, in funnel order."""
        return tuple(stage.name for stage in self.stages)

    @property
    def funnel_stages(self) -> tuple[str, ...]:
        """The stages a deal advances through, in order (no exits)."""
        return tuple(stage.name for stage in self.stages if not stage.exit)

    @property
    def exit_stages(self) -> tuple[str, ...]:
        """The stages a deal leaves the funnel by without being won."""
        return tuple(stage.name for stage in self.stages if stage.exit)

    @property
    def flow_kinds(self) -> dict[str, str]:
        """Event type → the kind of flow it counts as."""
        return {event_type: flow.name for flow in self.flows for event_type in flow.event_types}

    @property
    def deal_kinds(self) -> dict[str, str]:
        """Kind → number, for the kinds that count distinct deals."""
        return {flow.name: flow.number for flow in self.flows if not flow.per_event}

    @property
    def money_kind(self) -> FlowKind:
        """The kind whose amounts make up `closed_value`."""
        return next(flow for flow in self.flows if flow.money)

    @property
    def split_kind(self) -> FlowKind:
        """The kind whose count is split by a data field (client visits: FSI and FUA)."""
        return next(flow for flow in self.flows if flow.split_field is not None)

    @property
    def split_field(self) -> str:
        """The data field that splits the split kind."""
        return str(self.split_kind.split_field)

    def kind_of(self, number: str) -> FlowKind:
        """The kind that counts in `number`."""
        return next(flow for flow in self.flows if flow.number == number)

    @property
    def open_numbers(self) -> tuple[str, ...]:
        """The open numbers, in the order of `OpenNumbers`' fields."""
        return tuple(group.number for group in self.open_groups)

    @property
    def open_by_stage(self) -> dict[str | None, tuple[int, ...]]:
        """Stage → the indexes (in `open_numbers`) of the open numbers it counts in.

        Keyed by `str | None` so that a deal without a stage can be looked up (and count in none).
        """
        return {
            stage: tuple(i for i, group in enumerate(self.open_groups) if stage in group.stages)
            for stage in self.stage_names
        }

    def seed_rows(self) -> dict[str, list[tuple[object, ...]]]:
        """The rows of the database's `rules` tables, table by table, in column order."""
        return {
            "rules.stage": [
                (position, stage.name, stage.label, stage.exit)
                for position, stage in enumerate(self.stages, 1)
            ],
            "rules.stage_effect": [
                (event_type, effect.to, effect.only_from)
                for event_type, effect in sorted(self.effects.items())
            ],
            "rules.flow_kind": sorted(
                (event_type, flow.name, flow.number, flow.per_event, flow.money)
                for flow in self.flows
                for event_type in flow.event_types
            ),
            "rules.visit_split": sorted(
                (self.split_kind.name, self.split_field, value, number)
                for value, number in self.split.items()
            ),
            "rules.open_group": sorted(
                (group.number, stage) for group in self.open_groups for stage in group.stages
            ),
        }


class Stage:
    """Names for the stages that code refers to by meaning (all of them are in `RULES`)."""

    LEAD: Final = "lead"
    OPPORTUNITY: Final = "opportunity"
    EB_COMMITTED: Final = "eb_committed"
    COMMITTED: Final = "committed"
    WON: Final = "won"
    LOST: Final = "lost"
    DISQUALIFIED: Final = "disqualified"


RULES: RuleTable = RuleTable(
    stages=(
        StageRule(Stage.LEAD, "Lead", "#9ccfe0"),
        StageRule(Stage.OPPORTUNITY, "Opportunity", "#6cb4cc"),
        StageRule(Stage.EB_COMMITTED, "EB committed", "#3f95b2"),
        StageRule(Stage.COMMITTED, "Committed", "#1f6f8b"),
        StageRule(Stage.WON, "Won", "#2e7d4f"),
        StageRule(Stage.LOST, "Lost", "#a9b3bf", exit=True),
        StageRule(Stage.DISQUALIFIED, "Disqualified", "#a9b3bf", exit=True),
    ),
    effects=MappingProxyType(
        {
            "lead.sourced": StageEffect(Stage.LEAD),
            "deal.qualified": StageEffect(Stage.OPPORTUNITY),
            "deal.disqualified": StageEffect(Stage.DISQUALIFIED),
            "deal.eb_committed": StageEffect(Stage.EB_COMMITTED),
            "deal.eb_departed": StageEffect(Stage.OPPORTUNITY, only_from=Stage.EB_COMMITTED),
            "deal.committee_approved": StageEffect(Stage.COMMITTED),
            "deal.contract_signed": StageEffect(Stage.WON),
            "deal.lost": StageEffect(Stage.LOST),
        }
    ),
    flows=(
        FlowKind("signed", "closed_deals", ("deal.contract_signed",), money=True),
        FlowKind("approved", "committed_deals", ("deal.committee_approved",)),
        FlowKind("qualified", "opportunities", ("deal.qualified",)),
        FlowKind("sourced", "leads", ("lead.sourced",)),
        FlowKind(
            "visit", "client_visits", ("visit.completed",), per_event=True, split_field="kind"
        ),
    ),
    split=MappingProxyType({"FSI": "fsi_visits", "FUA": "fua_visits"}),
    open_groups=(
        OpenGroup("leads", (Stage.LEAD,)),
        OpenGroup("opportunities", (Stage.OPPORTUNITY, Stage.EB_COMMITTED, Stage.COMMITTED)),
        OpenGroup("committed_deals", (Stage.COMMITTED,)),
    ),
)
"""The rule table. Readers read it once, when they are imported."""

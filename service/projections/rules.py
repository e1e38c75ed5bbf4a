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
class SubCount:
    """The events of a per-event kind that also count in `number`: those whose data field
    `field` is one of `values` (lower-case ASCII), compared ignoring ASCII case."""

    number: str
    field: str
    values: tuple[str, ...]

    def matches(self, data: Mapping[str, object]) -> bool:
        """Whether an event with this data counts in the sub-count."""
        value = data.get(self.field)
        return isinstance(value, str) and value.isascii() and value.lower() in self.values


@dataclass(frozen=True, slots=True)
class Measure:
    """An integer data field of a per-event kind's events, summed into `number`: over the events
    of the kind's sub-count when `of_subcount`, else over all the events the kind counts."""

    number: str
    field: str
    of_subcount: bool = False


@dataclass(frozen=True, slots=True)
class FlowKind:
    """A kind of flow: the events that count as it, and the number they count in.

    `name` is the kind stored in the read models and shown by `reporting.flow_facts`. A kind
    counts distinct deals unless `per_event`; `money` names the kind whose amounts make up
    `closed_value`; `split_field` names the data field whose values split the count (`SPLIT`).
    A per-event kind may also count only the events whose data fields hold the values of `only`
    (field, value), count some of them again (`subcount`) and sum a field of them (`measure`).
    """

    name: str
    number: str
    event_types: tuple[str, ...]
    per_event: bool = False
    money: bool = False
    split_field: str | None = None
    only: tuple[tuple[str, str], ...] = ()
    subcount: SubCount | None = None
    measure: Measure | None = None

    def admits(self, data: Mapping[str, object]) -> bool:
        """Whether an event of the kind's types, with this data, counts (`only` holds)."""
        return all(data.get(field) == value for field, value in self.only)

    def in_subcount(self, data: Mapping[str, object]) -> bool:
        """Whether a counted event with this data also counts in the sub-count."""
        return self.subcount is not None and self.subcount.matches(data)

    def measured(self, data: Mapping[str, object]) -> int | None:
        """The value a counted event with this data adds to the measure (None: it adds none)."""
        if self.measure is None or (self.measure.of_subcount and not self.in_subcount(data)):
            return None
        value = data.get(self.measure.field)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
        for flow in self.flows:
            self._check_per_event(flow)

    @staticmethod
    def _check_per_event(flow: FlowKind) -> None:
        extras = flow.split_field or flow.only or flow.subcount or flow.measure
        if extras and not flow.per_event:
            raise ValueError(f"{flow.name!r}: only a kind that counts events is split or filtered")
        if flow.split_field and (flow.only or flow.subcount or flow.measure):
            raise ValueError(f"{flow.name!r}: the split kind has no filter, sub-count or measure")
        if flow.measure and flow.measure.of_subcount and flow.subcount is None:
            raise ValueError(f"{flow.name!r}: its measure is of a sub-count it does not have")
        if flow.subcount and any(
            not value.isascii() or value != value.lower() for value in flow.subcount.values
        ):
            raise ValueError(f"{flow.name!r}: sub-count values are lower-case ASCII")

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

    @property
    def event_kinds(self) -> tuple[FlowKind, ...]:
        """The kinds that count events and are not the split kind (calls)."""
        return tuple(flow for flow in self.flows if flow.per_event and flow.split_field is None)

    @property
    def event_numbers(self) -> tuple[str, ...]:
        """The numbers of `event_kinds`: each kind's count, sub-count and measure, in order."""
        numbers: list[str] = []
        for flow in self.event_kinds:
            numbers.append(flow.number)
            if flow.subcount is not None:
                numbers.append(flow.subcount.number)
            if flow.measure is not None:
                numbers.append(flow.measure.number)
        return tuple(numbers)

    def kind_of(self, number: str) -> FlowKind:
        """The kind that counts in `number`."""
        return next(flow for flow in self.flows if flow.number == number)

    @property
    def open_numbers(self) -> tuple[str, ...]:
        """The open numbers, in the order of `OpenNumbers`' fields."""
        return tuple(group.number for group in self.open_groups)

    @property
    def settled_stages(self) -> frozenset[str]:
        """The stages no open number counts and no conditional effect leaves (none is an
        `only_from`): a deal in one stays there until an unconditional effect moves it."""
        counted = {stage for group in self.open_groups for stage in group.stages}
        left = {effect.only_from for effect in self.effects.values() if effect.only_from}
        return frozenset(self.stage_names) - counted - left

    @property
    def settling_types(self) -> frozenset[str]:
        """The event types that put a deal in a settled stage whatever stage it was in."""
        settled = self.settled_stages
        return frozenset(
            event_type
            for event_type, effect in self.effects.items()
            if effect.only_from is None and effect.to in settled
        )

    @property
    def unsettling_types(self) -> frozenset[str]:
        """The event types that put a deal in a stage that is not settled, whatever stage it
        was in (the conditional ones cannot move a settled deal)."""
        settled = self.settled_stages
        return frozenset(
            event_type
            for event_type, effect in self.effects.items()
            if effect.only_from is None and effect.to not in settled
        )

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
            "rules.flow_filter": sorted(
                (flow.name, field, value) for flow in self.flows for field, value in flow.only
            ),
            "rules.flow_subcount": sorted(
                (flow.name, flow.subcount.field, value, flow.subcount.number)
                for flow in self.flows
                if flow.subcount is not None
                for value in flow.subcount.values
            ),
            "rules.flow_measure": sorted(
                (flow.name, flow.measure.field, flow.measure.number, flow.measure.of_subcount)
                for flow in self.flows
                if flow.measure is not None
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


CONNECTED_OUTCOMES: Final = ("answered", "connected", "reached")
"""Call outcomes that say the call connected, compared ignoring case: Aircall's mapping writes
`answered` (the call has an `answered_at`); HubSpot's default outcome is `Connected`;
Salesforce's CallDisposition is the org's own picklist, where `Reached` is the usual value.
Voicemails, live messages left with someone else, no answer, busy and wrong numbers do not count.
"""

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
        FlowKind(
            "call",
            "calls",
            ("call.logged",),
            per_event=True,
            only=(("direction", "outbound"),),
            subcount=SubCount("connected_calls", "outcome", CONNECTED_OUTCOMES),
            measure=Measure("talk_time_s", "duration_s", of_subcount=True),
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

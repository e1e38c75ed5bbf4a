"""Flow facts: the one row per event that can count in a scoreboard period (contract §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from service.events.recorded import RecordedEvent
from service.projections.deal import is_deal
from service.projections.rules import RULES

FLOW_KINDS: Final = RULES.flow_kinds
"""Event type → the kind of flow it credits."""
_MONEY: Final = RULES.money_kind.name
_SPLIT: Final = RULES.split_kind.name
_SPLIT_FIELD: Final = RULES.split_field
_BY_NAME: Final = {flow.name: flow for flow in RULES.flows}


@dataclass(frozen=True, slots=True)
class FlowFact:
    """An event that counts for a period if it occurred in it and is known and unretracted."""

    position: int
    deal_id: str
    kind: str
    rep_id: str
    occurred_at: datetime
    recorded_at: datetime
    amount: str | None
    currency: str | None
    visit_kind: str | None
    """A visit's kind (FSI, FUA)."""
    subcount: str | None = None
    """The sub-count the event also counts in (`connected_calls`), if any."""
    measure: int | None = None
    """What the event adds to its kind's measure (a connected call's `duration_s`)."""

    @property
    def stored_kind(self) -> str | None:
        """The read models' `visit_kind` column: the visit's kind, or the sub-count."""
        return self.visit_kind if self.visit_kind is not None else self.subcount


def flow_fact(event: RecordedEvent) -> FlowFact | None:
    """The flow fact of an event, or None for an event that never counts."""
    kind = FLOW_KINDS.get(event.type)
    if kind is None or not is_deal(event.subject):
        return None
    data = event.data
    flow = _BY_NAME[kind]
    if not flow.admits(data):
        return None
    tally = flow.subcount.number if flow.subcount and flow.in_subcount(data) else None
    return FlowFact(
        position=event.position,
        deal_id=event.subject,
        kind=kind,
        rep_id=str(data["rep_id"]),
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        amount=data.get("amount") if kind == _MONEY else None,
        currency=data.get("currency") if kind == _MONEY else None,
        visit_kind=data.get(_SPLIT_FIELD) if kind == _SPLIT else None,
        subcount=tally,
        measure=flow.measured(data),
    )

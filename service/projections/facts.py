"""Flow facts: the one row per event that can count in a scoreboard period (contract §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from service.events.recorded import RecordedEvent
from service.projections.deal import is_deal

FLOW_KINDS: Final = {
    "deal.contract_signed": "signed",
    "deal.committee_approved": "approved",
    "deal.qualified": "qualified",
    "lead.sourced": "sourced",
    "visit.completed": "visit",
}
"""Event type → the kind of flow it credits."""


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


def flow_fact(event: RecordedEvent) -> FlowFact | None:
    """The flow fact of an event, or None for an event that never counts."""
    kind = FLOW_KINDS.get(event.type)
    if kind is None or not is_deal(event.subject):
        return None
    data = event.data
    return FlowFact(
        position=event.position,
        deal_id=event.subject,
        kind=kind,
        rep_id=str(data["rep_id"]),
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        amount=data.get("amount") if kind == "signed" else None,
        currency=data.get("currency") if kind == "signed" else None,
        visit_kind=data.get("kind") if kind == "visit" else None,
    )

"""A tiny log of `RecordedEvent`s for tests: positions, stream versions and times filled in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from service.events.recorded import RecordedEvent

RECORDED_BASE = datetime(2026, 6, 1, tzinfo=UTC)
"""Default transaction times start here: after every valid time the tests use."""

DEFAULT_DATA: Mapping[str, Mapping[str, Any]] = {
    "lead.sourced": {"account": {"name": "Acme"}, "channel": "web"},
    "lead.contacted": {"method": "call"},
    "visit.completed": {"kind": "FSI"},
    "call.logged": {"direction": "outbound", "duration_s": 60},
    "deal.qualified": {"amount": "1000.00", "currency": "TWD"},
    "deal.disqualified": {"reason": "no budget"},
    "deal.eb_committed": {"eb": {"name": "Ms. Lin", "title": "CFO"}},
    "deal.eb_departed": {},
    "deal.committee_approved": {},
    "deal.contract_signed": {"amount": "1000.00", "currency": "TWD", "contract_id": "C-1"},
    "deal.lost": {"reason": "price"},
    "deal.reassigned": {"to_rep_id": "R-2"},
    "deal.amount_revised": {"amount": "1000.00", "currency": "TWD"},
}
"""Valid data for each deal event type, besides `rep_id`."""


def at(when: str | datetime) -> datetime:
    """An aware UTC instant from an ISO 8601 string with offset (or a datetime)."""
    instant = datetime.fromisoformat(when) if isinstance(when, str) else when
    assert instant.tzinfo is not None, "test instants carry an offset"
    return instant.astimezone(UTC)


class EventLog:
    """Events as the store would record them: a global position and a per-subject version."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self._versions: dict[str, int] = {}

    def add(
        self,
        type_: str,
        subject: str,
        time: str | datetime,
        *,
        recorded_at: str | datetime | None = None,
        position: int | None = None,
        **data: Any,
    ) -> RecordedEvent:
        """Record one event; deal events get default data and `rep_id` R-1 unless given."""
        position = len(self.events) + 1 if position is None else position
        version = self._versions.get(subject, 0) + 1
        self._versions[subject] = version
        full = dict(DEFAULT_DATA.get(type_, {}))
        if type_ in DEFAULT_DATA:
            full["rep_id"] = "R-1"
        full.update(data)
        event = RecordedEvent(
            position=position,
            subject=subject,
            stream_version=version,
            source="crm",
            id=f"e-{len(self.events) + 1}",
            type=type_,
            occurred_at=at(time),
            recorded_at=(
                RECORDED_BASE + timedelta(minutes=position)
                if recorded_at is None
                else at(recorded_at)
            ),
            data=full,
        )
        self.events.append(event)
        return event

    def retract(
        self,
        target: RecordedEvent,
        time: str | datetime,
        *,
        recorded_at: str | datetime | None = None,
    ) -> RecordedEvent:
        """Record the retraction of `target`, written to the target's subject."""
        return self.add(
            "event.retracted",
            target.subject,
            time,
            recorded_at=recorded_at,
            event_source=target.source,
            event_id=target.id,
            reason="entered by mistake",
        )

    def team(
        self,
        rep_id: str,
        team_id: str,
        time: str | datetime,
        *,
        recorded_at: str | datetime | None = None,
    ) -> RecordedEvent:
        """Record that `rep_id` belongs to `team_id` from `time` on."""
        return self.add(
            "rep.team_assigned",
            f"rep:{rep_id}",
            time,
            recorded_at=recorded_at,
            team_id=team_id,
            rep_id=rep_id,
        )

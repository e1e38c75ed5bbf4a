"""Turning a configured rule and what a vendor said into a contract CloudEvent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from service.digits import natural
from service.webhooks.config import Rule

# Which facts a vendor may supply for each event type; static rule data fills the rest.
_FACTS_BY_TYPE: dict[str, frozenset[str]] = {
    "lead.sourced": frozenset({"account"}),
    "deal.qualified": frozenset({"amount", "currency"}),
    "deal.contract_signed": frozenset({"amount", "currency", "contract_id"}),
    "deal.amount_revised": frozenset({"amount", "currency"}),
    "deal.lost": frozenset({"reason"}),
    "deal.disqualified": frozenset({"reason"}),
    "deal.reassigned": frozenset({"to_rep_id"}),
    "call.logged": frozenset({"direction", "duration_s", "outcome"}),
}


def event_data(rule: Rule, rep_id: str, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The event's data: the rule's fixed fields, overridden by the vendor's relevant facts."""
    relevant = _FACTS_BY_TYPE.get(rule.type, frozenset())
    data = dict(rule.data)
    data.update({k: v for k, v in facts.items() if k in relevant and v is not None})
    data["rep_id"] = rep_id
    return data


def cloud_event(
    *, source: str, event_id: str, rule: Rule, subject: str, time: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """A structured-mode CloudEvent, as `POST /v1/events` would receive it."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": rule.type,
        "subject": subject,
        "time": time.astimezone(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def subject_for(template: str, vendor_id: object) -> str:
    """The subject of a vendor deal id, from a template such as `HS-{id}`."""
    return template.replace("{id}", str(vendor_id))


def from_millis(value: object) -> datetime | None:
    """A UTC instant from epoch milliseconds (None if unreadable)."""
    return _from_epoch(value, 1000)


def from_seconds(value: object) -> datetime | None:
    """A UTC instant from epoch seconds (None if unreadable)."""
    return _from_epoch(value, 1)


def _from_epoch(value: object, per_second: int) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return datetime.fromtimestamp(float(value) / per_second, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def from_text(value: object) -> datetime | None:
    """A UTC instant from ISO 8601 or Pipedrive's `YYYY-MM-DD HH:MM:SS` (UTC); None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return from_seconds(value) if natural(value) is not None else None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

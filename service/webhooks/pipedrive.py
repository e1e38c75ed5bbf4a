"""Pipedrive webhooks v2 (`meta`, `data`, `previous`) to contract events.

A deal `change` can carry several facts at once (stage, status, owner, value): each becomes its
own event, with id `<meta.id>:<part>`, `meta.id` being Pipedrive's id of the change. An activity
counts once, when it is created done or changed to done: its id is `activity-<data.id>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.digits import natural
from service.webhooks.config import PipedriveConfig, Rule
from service.webhooks.outcomes import Mapped, Outcome, Unmapped, content_key
from service.webhooks.rules import cloud_event, event_data, from_text, subject_for

_REASSIGNED = Rule(type="deal.reassigned")
_AMOUNT_REVISED = Rule(type="deal.amount_revised")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _seconds(duration: object) -> int:
    """Seconds of a Pipedrive duration such as `01:30` or `00:05:20` (0 when absent)."""
    if not isinstance(duration, str) or not duration:
        return 0
    seconds = 0
    parts = duration.split(":")
    for scale, part in zip((3600, 60, 1), parts, strict=False):
        seconds += scale * (natural(part, maximum=10**6) or 0)
    return seconds


class _Delivery:
    """One parsed Pipedrive delivery and the configuration to map it with."""

    def __init__(self, body: dict[str, Any], config: PipedriveConfig) -> None:
        self.body, self.config = body, config
        self.meta, self.data = _dict(body.get("meta")), _dict(body.get("data"))
        self.previous = _dict(body.get("previous"))
        self.key = str(self.meta.get("id") or content_key(body))
        self.action, self.entity = self.meta.get("action"), self.meta.get("entity")
        self.time = from_text(self.meta.get("timestamp")) or from_text(self.data.get("update_time"))

    def skip(self, reason: str, part: str | None = None) -> Unmapped:
        """An inbox item for this delivery (or one part of it)."""
        return Unmapped(f"{self.key}:{part}" if part else self.key, reason, self.body)

    def event(
        self,
        event_id: str,
        rule: Rule,
        subject: str,
        time: datetime,
        rep: str,
        facts: dict[str, Any],
    ) -> Mapped:
        """A contract event made from this delivery."""
        data = event_data(rule, rep, facts)
        raw = cloud_event(
            source=self.config.source,
            event_id=event_id,
            rule=rule,
            subject=subject,
            time=time,
            data=data,
        )
        return Mapped(event_id, raw, self.body)


def _deal_parts(d: _Delivery) -> list[tuple[str, Rule | str]]:
    """Each fact of a deal create or change: a rule, or why it maps to none."""
    config, data, previous = d.config, d.data, d.previous
    parts: list[tuple[str, Rule | str]] = []
    stage = str(data.get("stage_id"))
    if d.action == "create":
        parts.append(("created", config.deal_created or "deal creation is not mapped"))
        if stage in config.stages:
            parts.append(("stage", config.stages[stage]))
        return parts
    if "stage_id" in previous:
        parts.append(("stage", config.stages.get(stage) or f"stage {stage} is not mapped"))
    if "status" in previous:
        status = str(data.get("status"))
        parts.append(("status", config.statuses.get(status) or f"status {status} is not mapped"))
    if "owner_id" in previous:
        parts.append(("owner", _REASSIGNED))
    if "value" in previous or "currency" in previous:
        parts.append(("value", _AMOUNT_REVISED))
    return parts


def _deal(d: _Delivery) -> list[Outcome]:
    data, config = d.data, d.config
    parts = _deal_parts(d) if d.action in ("create", "change") and data else []
    if not parts or d.time is None:
        return [d.skip(f"deal {d.action} carries no mapped change")]
    subject = subject_for(config.subject, data.get("id") or d.meta.get("entity_id"))
    owner = config.rep(data.get("owner_id"))
    facts = {
        "amount": data.get("value"),
        "currency": data.get("currency"),
        "contract_id": f"pipedrive-{data.get('id')}",
        "reason": data.get("lost_reason"),
        "account": {"name": data["title"]} if data.get("title") else None,
        "to_rep_id": owner,
    }
    outcomes: list[Outcome] = []
    for part, rule in parts:
        rep = owner
        if rule is _REASSIGNED:
            actor = d.meta.get("user_id")
            rep = config.rep(actor) or config.rep(d.previous.get("owner_id")) or owner
        if isinstance(rule, str):
            outcomes.append(d.skip(rule, part))
        elif rep is None or owner is None:
            outcomes.append(d.skip(f"Pipedrive user {data.get('owner_id')} is not mapped", part))
        else:
            outcomes.append(d.event(f"{d.key}:{part}", rule, subject, d.time, rep, facts))
    return outcomes


def _activity(d: _Delivery) -> list[Outcome]:
    data, config = d.data, d.config
    rule = config.activities.get(str(data.get("type")))
    done_now = data.get("done") is True and (
        d.action == "create" or (d.action == "change" and d.previous.get("done") is False)
    )
    rep = config.rep(data.get("owner_id") or data.get("user_id"))
    time = from_text(data.get("marked_as_done_time")) or d.time
    if rule is None:
        return [d.skip(f"activity type {data.get('type')!r} is not mapped")]
    if not done_now:
        return [d.skip("this change does not mark the activity done")]
    if not data.get("deal_id") or rep is None or time is None:
        return [d.skip("the activity has no deal, no mapped owner or no time")]
    facts = {
        "duration_s": _seconds(data.get("duration")),
        "direction": rule.data.get("direction", "outbound"),
    }
    subject = subject_for(config.subject, data["deal_id"])
    return [d.event(f"activity-{data.get('id')}", rule, subject, time, rep, facts)]


def map_pipedrive(body: Any, config: PipedriveConfig) -> list[Outcome]:
    """One Pipedrive delivery as contract events or inbox items."""
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict):
        return [Unmapped(content_key(body), "not a Pipedrive v2 webhook (no 'meta')", body)]
    delivery = _Delivery(body, config)
    if delivery.entity == "deal":
        return _deal(delivery)
    if delivery.entity == "activity":
        return _activity(delivery)
    return [delivery.skip(f"{delivery.action} of {delivery.entity!r} is not mapped")]

"""A deal's history, as any CRM records it, folded into contract events.

A vendor reader turns its rows into a `DealRecord` (creation, then stage, amount and owner
changes in time order) and `Activity` records; this module applies the mapping:

- a change that does not change the *mapped* stage makes no stage event (two vendor stages
  mapped to one rule, a stage mapped to null, an amount-only row);
- a changed amount is `deal.amount_revised`, unless the stage event of the same change carries
  it (`deal.qualified`, `deal.contract_signed`);
- an owner change is `deal.reassigned`, credited to whoever made it (else the former owner);
- stage events are credited to the deal's owner at that time, else `default_rep_id`;
- with `first_visit_is_fsi`, a deal's first visit is its FSI and later ones FUA.

Moves back, skipped stages, re-wins, losses and disqualifications are events like any other:
the contract's fold (last stage wins) gives them their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from service.importers.rows import (
    RANK_ACTIVITY,
    RANK_AMOUNT,
    RANK_CREATED,
    RANK_OWNER,
    RANK_STAGE,
    Origin,
    Plan,
)
from service.importers.rules import ImportRules
from service.importers.values import amount_text
from service.webhooks.config import Rule
from service.webhooks.rules import cloud_event, event_data

_AMOUNT_REVISED = Rule(type="deal.amount_revised")
_REASSIGNED = Rule(type="deal.reassigned")
_CARRIES_AMOUNT = frozenset({"deal.qualified", "deal.contract_signed"})
_CHANNELS = frozenset(
    {"web", "trade_show", "referral", "cold_call", "email", "linkedin", "event", "other"}
)


@dataclass(slots=True)
class Change:
    """One history entry: a stage, an amount and/or an owner, at one instant."""

    time: datetime
    origin: Origin
    stage: str | None = None
    stage_id: str = ""
    amount: Decimal | None = None
    amount_id: str = ""
    owner: str | None = None
    owner_id: str = ""
    by_user: str | None = None


@dataclass(slots=True)
class DealRecord:
    """A vendor deal: its creation and its changes."""

    vendor_id: str
    origin: Origin
    created_at: datetime
    created_id: str
    owner: str | None
    account: str
    lead_source: str | None
    currency: str | None
    contract_id: str
    changes: list[Change] = field(default_factory=list)
    account_id: str | None = None
    """The CRM's account id (Salesforce `AccountId`, a HubSpot company id): the account key."""


@dataclass(slots=True)
class Activity:
    """A call or a meeting on a deal."""

    origin: Origin
    event_id: str
    deal: str
    kind: str
    time: datetime
    owner: str | None
    direction: str | None = None
    duration_s: int = 0
    outcome: str | None = None


@dataclass(slots=True)
class _Fold:
    rules: ImportRules
    deal: DealRecord
    plan: Plan
    subject: str
    owner: str | None
    rule: Rule | None = None
    stage: str | None = None
    amount: Decimal | None = None

    def emit(
        self,
        origin: Origin,
        event_id: str,
        rule: Rule,
        data: dict[str, Any],
        time: datetime,
        rank: int,
    ) -> None:
        event = cloud_event(
            source=self.rules.source,
            event_id=event_id,
            rule=rule,
            subject=self.subject,
            time=time,
            data=data,
        )
        self.plan.add(origin, event, rank)

    def owner_rep(self) -> str | None:
        return self.rules.rep(self.owner) or self.rules.default_rep_id

    def facts(self) -> dict[str, Any]:
        return {
            "amount": None if self.amount is None else amount_text(self.amount),
            "currency": self.deal.currency or self.rules.currency,
            "contract_id": self.deal.contract_id,
        }


def fold_deal(deal: DealRecord, rules: ImportRules, plan: Plan) -> None:
    """The contract events of one deal's creation and history, into `plan`."""
    fold = _Fold(rules, deal, plan, rules.deal_subject(deal.vendor_id), deal.owner)
    _created(fold)
    for change in sorted(deal.changes, key=lambda change: change.time):
        if change.owner is not None:
            _owner_changed(fold, change)
        amount_changed = change.amount is not None and change.amount != fold.amount
        if amount_changed:
            fold.amount = change.amount
        if change.stage is not None and change.stage != fold.stage:
            fold.stage = change.stage
            if _stage_changed(fold, change):
                amount_changed = False
        if amount_changed:
            _amount_changed(fold, change)


def _created(fold: _Fold) -> None:
    rule, deal = fold.rules.deal_created, fold.deal
    if rule is None:
        fold.plan.ignore("deal creation not mapped (no deal_created rule)")
        return
    rep = fold.owner_rep()
    if rep is None:
        fold.plan.skip(deal.origin, _unmapped_owner(fold))
        return
    account = {"name": deal.account}
    if deal.account_id:
        account["id"] = deal.account_id
    data = event_data(rule, rep, {"account": account})
    channel = fold.rules.channels.get(deal.lead_source or "")
    data["channel"] = channel if channel in _CHANNELS else data.get("channel", "other")
    fold.emit(deal.origin, deal.created_id, rule, data, deal.created_at, RANK_CREATED)


def _unmapped_owner(fold: _Fold) -> str:
    return (
        f"{fold.rules.vendor} user {fold.owner!r} (the deal's owner) is not mapped to a rep "
        "and no default_rep_id is configured"
    )


def _owner_changed(fold: _Fold, change: Change) -> None:
    rules = fold.rules
    before = fold.owner_rep()
    fold.owner = change.owner
    to_rep = rules.rep(change.owner)
    if to_rep is None:
        fold.plan.skip(change.origin, f"{rules.vendor} user {change.owner!r} is not mapped")
        return
    if to_rep == before:
        fold.plan.ignore("owner change to the same rep")
        return
    rep = rules.rep(change.by_user) or before or to_rep
    data = event_data(_REASSIGNED, rep, {"to_rep_id": to_rep})
    fold.emit(change.origin, change.owner_id, _REASSIGNED, data, change.time, RANK_OWNER)


def _stage_changed(fold: _Fold, change: Change) -> bool:
    """Emit the stage's event if the mapped stage changed; whether it carried the amount."""
    rules, stage = fold.rules, change.stage or ""
    if stage not in rules.stages:
        fold.plan.skip(change.origin, f"{rules.vendor} stage {stage!r} is not mapped")
        return False
    rule = rules.stages[stage]
    if rule is None:
        fold.plan.ignore("stage mapped to no event")
        return False
    if rule == fold.rule:
        fold.plan.ignore("stage change within the same mapped stage")
        return False
    fold.rule = rule
    rep = fold.owner_rep()
    facts = fold.facts()
    if rep is None:
        fold.plan.skip(change.origin, _unmapped_owner(fold))
        return False
    if rule.type in _CARRIES_AMOUNT:
        if facts["amount"] is None and "amount" not in rule.data:
            fold.plan.skip(change.origin, f"no amount known for {rule.type}")
            return False
        if facts["currency"] is None and "currency" not in rule.data:
            fold.plan.skip(change.origin, "no currency (none in the export or the mapping)")
            return False
    data = event_data(rule, rep, facts)
    fold.emit(change.origin, change.stage_id, rule, data, change.time, RANK_STAGE)
    return rule.type in _CARRIES_AMOUNT


def _amount_changed(fold: _Fold, change: Change) -> None:
    rep, facts = fold.owner_rep(), fold.facts()
    if rep is None:
        fold.plan.skip(change.origin, _unmapped_owner(fold))
        return
    if facts["currency"] is None:
        fold.plan.skip(change.origin, "no currency (none in the export or the mapping)")
        return
    data = event_data(_AMOUNT_REVISED, rep, facts)
    fold.emit(change.origin, change.amount_id, _AMOUNT_REVISED, data, change.time, RANK_AMOUNT)


def map_activities(
    activities: list[Activity], rules: ImportRules, plan: Plan, now: datetime
) -> None:
    """The events of calls and meetings; visits numbered per deal when the first is the FSI."""
    visits: dict[str, int] = {}
    for activity in sorted(activities, key=lambda a: (a.time, a.event_id)):
        if activity.kind not in rules.activities:
            reason = f"{rules.vendor} activity type {activity.kind!r} is not mapped"
            plan.skip(activity.origin, reason)
            continue
        rule = rules.activities[activity.kind]
        if rule is None:
            plan.ignore("activity type mapped to no event")
            continue
        if activity.time > now:
            plan.ignore("activity not yet happened")
            continue
        rep = rules.rep(activity.owner)
        if rep is None:
            plan.skip(activity.origin, f"{rules.vendor} user {activity.owner!r} is not mapped")
            continue
        data = event_data(rule, rep, _activity_facts(activity, rule))
        if rule.type == "call.logged" and "direction" not in data:
            plan.skip(activity.origin, "the call's direction is not known (inbound or outbound)")
            continue
        if rule.type == "visit.completed" and rules.first_visit_is_fsi:
            seen = visits.get(activity.deal, 0)
            data["kind"] = "FUA" if seen else "FSI"
            visits[activity.deal] = seen + 1
        event = cloud_event(
            source=rules.source,
            event_id=activity.event_id,
            rule=rule,
            subject=rules.deal_subject(activity.deal),
            time=activity.time,
            data=data,
        )
        plan.add(activity.origin, event, RANK_ACTIVITY)


def _activity_facts(activity: Activity, rule: Rule) -> dict[str, Any]:
    if rule.type != "call.logged":
        return {}
    return {
        "direction": activity.direction,
        "duration_s": activity.duration_s,
        "outcome": activity.outcome or None,
    }

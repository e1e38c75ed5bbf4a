"""Salesforce Outbound Message notifications (Opportunity, Task, Event) to contract events.

An Opportunity notification carries the record as it is now, not what changed. The change is
found by comparing it with what the ledger knows of the deal at the record's `LastModifiedDate`:
a `StageName` whose rule moves the deal to another stage makes that stage's event; one that
leaves the deal where it is makes none; a new `OwnerId` makes `deal.reassigned`, a new `Amount`
`deal.amount_revised`. A deal the ledger does not know yet starts with `deal_created`.

Event ids: `Notification/<notification Id>/<part>` for an Opportunity (part: `created`,
`owner`, `amount`, `stage`), as Salesforce sends the same notification id on every retry, and
the comparison finds nothing new once the first delivery is stored. A Task or an Event counts
once however often it is notified: `Task/<Id>`, `Event/<Id>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal, InvalidOperation
from typing import Any

from service.digits import natural
from service.projections.rules import Stage
from service.webhooks.config import Rule, SalesforceConfig
from service.webhooks.context import DealContext, DealLookup
from service.webhooks.outbound_messages import Notification
from service.webhooks.outcomes import Mapped, Outcome, Unmapped
from service.webhooks.rules import cloud_event, event_data, subject_for

_REASSIGNED = Rule(type="deal.reassigned")
_AMOUNT_REVISED = Rule(type="deal.amount_revised")
_OPPORTUNITY_PREFIX = "006"  # the key prefix of every Opportunity id
_MAX_CALL_SECONDS = 7 * 24 * 3600
_JUST_BEFORE = timedelta(microseconds=1)

# The stage each stage-setting event moves a deal into (contract §3).
_ENTERS: dict[str, str] = {
    "lead.sourced": Stage.LEAD,
    "deal.qualified": Stage.OPPORTUNITY,
    "deal.disqualified": Stage.DISQUALIFIED,
    "deal.eb_committed": Stage.EB_COMMITTED,
    "deal.committee_approved": Stage.COMMITTED,
    "deal.contract_signed": Stage.WON,
    "deal.lost": Stage.LOST,
}
_SETS_AMOUNT = frozenset({"deal.qualified", "deal.contract_signed"})
_DIRECTIONS = {"outbound": "outbound", "inbound": "inbound"}


def _instant(value: str | None) -> datetime | None:
    """A Salesforce dateTime (`2026-01-05T02:00:00.000Z`, `…+0000`) in UTC; None if unreadable."""
    if value is None or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: str | None) -> date | None:
    """A Salesforce date (`2026-01-05`); None if absent or unreadable."""
    if value is None or len(value) != len("2026-01-05"):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _call_time(fields: Mapping[str, str | None]) -> datetime | None:
    """When a call happened, dated as the importer dates it: `CreatedDate` when the task was
    logged on the call's day (`ActivityDate`), else noon UTC of that day, which falls on the
    same date in every zone from UTC-11 to UTC+11."""
    created, on = _instant(fields.get("CreatedDate")), _date(fields.get("ActivityDate"))
    if on is None or (created is not None and created.date() == on):
        return created
    return datetime.combine(on, dt_time(12), UTC)


def _decimal(value: str | None) -> Decimal | None:
    """A currency field as a finite decimal (`50000.0`, or `1.5E7` as Salesforce writes large
    doubles); None if absent or unreadable."""
    if value is None or len(value) > 64:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _plain(number: Decimal) -> str:
    """A decimal as plain text, as the contract writes amounts (never an exponent)."""
    return format(number, "f")


def _differs(amount: Decimal, currency: str, ctx: DealContext) -> bool:
    known = _decimal(ctx.amount)
    return known is None or known != amount or ctx.currency != currency


@dataclass(slots=True)
class _Message:
    """The configuration and lookup one message is mapped with, and what it changed so far:
    later notifications of the same deal in the same message see it."""

    config: SalesforceConfig
    lookup: DealLookup
    now: datetime
    contexts: dict[str, DealContext]

    async def context(self, subject: str, at: datetime) -> DealContext:
        return self.contexts.get(subject) or await self.lookup(subject, at)

    def event(
        self, key: str, rule: Rule, subject: str, time: datetime, data: dict[str, Any], n: Any
    ) -> Mapped:
        """A contract event made from notification payload `n`."""
        raw = cloud_event(
            source=self.config.source,
            event_id=key,
            rule=rule,
            subject=subject,
            time=time,
            data=data,
        )
        return Mapped(key, raw, n)


def _skip(n: Notification, reason: str, part: str | None = None) -> Unmapped:
    key = f"Notification/{n.id}" + (f"/{part}" if part else "")
    return Unmapped(key, reason, n.payload())


def _after(ctx: DealContext, rule: Rule, data: Mapping[str, Any]) -> DealContext:
    """The context once an event is applied."""
    ctx = replace(ctx, exists=True)
    if rule.type in _ENTERS:
        ctx = replace(ctx, stage=_ENTERS[rule.type])
    elif rule.type == "deal.eb_departed" and ctx.stage == Stage.EB_COMMITTED:
        ctx = replace(ctx, stage=Stage.OPPORTUNITY)
    if rule.type == "lead.sourced":
        ctx = replace(ctx, owner_rep_id=str(data["rep_id"]))
    elif rule.type == "deal.reassigned":
        ctx = replace(ctx, owner_rep_id=str(data["to_rep_id"]))
    elif rule.type == "visit.completed":
        ctx = replace(ctx, visits=ctx.visits + 1)
    if "amount" in data and "currency" in data:
        ctx = replace(ctx, amount=str(data["amount"]), currency=str(data["currency"]))
    return ctx


def _moves(rule: Rule, stage: str | None) -> bool:
    """Whether the rule's event would move a deal now in `stage` to another stage."""
    if rule.type == "deal.eb_departed":
        return stage == Stage.EB_COMMITTED
    return _ENTERS[rule.type] != stage


@dataclass(slots=True)
class _Opportunity:
    """One Opportunity notification being mapped, part by part."""

    n: Notification
    m: _Message
    subject: str
    time: datetime
    rep: str
    ctx: DealContext
    outcomes: list[Outcome]

    @property
    def fields(self) -> Mapping[str, str | None]:
        return self.n.fields

    def emit(
        self,
        part: str,
        rule: Rule,
        facts: dict[str, Any],
        *,
        rep: str | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        """Append the part's event; `defaults` fill data fields neither rule nor facts set."""
        data = event_data(rule, rep or self.rep, facts)
        for name, value in (defaults or {}).items():
            data.setdefault(name, value)
        key = f"Notification/{self.n.id}/{part}"
        event = self.m.event(key, rule, self.subject, self.time, data, self.n.payload())
        self.outcomes.append(event)
        self.ctx = _after(self.ctx, rule, data)

    def lead(self) -> dict[str, Any]:
        """The account and channel a `lead.sourced` takes from the record."""
        fields = self.fields
        # An Outbound Message carries the record's own fields, not its account's name: the
        # account is named by its id, so that the deals of one account share one account key.
        account = fields.get("AccountId")
        name = f"Salesforce account {account}" if account else fields.get("Name")
        channel = self.m.config.channels.get(str(fields.get("LeadSource")))
        named: dict[str, Any] = {"name": name or f"Salesforce opportunity {fields.get('Id')}"}
        if account:
            named["id"] = str(account)  # the CRM's account id: the account key (contract §3)
        return {"account": named, "channel": channel or "other"}

    def created(self) -> None:
        # A deal without a stage has not been created in the ledger (calls alone do not).
        rule = self.m.config.deal_created
        if self.ctx.stage is not None or rule is None:
            return
        lead = self.lead() if rule.type == "lead.sourced" else {}
        self.emit("created", rule, lead, defaults=lead)

    def owner(self) -> None:
        owner = self.m.config.rep(self.fields.get("OwnerId"))
        if owner is None or self.ctx.owner_rep_id in (None, owner):
            return
        by = self.m.config.rep(self.fields.get("LastModifiedById")) or self.ctx.owner_rep_id
        self.emit("owner", _REASSIGNED, {"to_rep_id": owner}, rep=by)

    def amount(self, currency: str | None, stage_rule: Rule | None) -> None:
        amount = _decimal(self.fields.get("Amount"))
        if amount is None or not self.ctx.exists:
            return
        if (
            stage_rule is not None
            and stage_rule.type in _SETS_AMOUNT
            and _moves(stage_rule, self.ctx.stage)
        ):
            return  # the stage's own event carries the amount
        if currency is None:
            reason = "the amount changed but no currency is known (CurrencyIsoCode or currency)"
            self.outcomes.append(_skip(self.n, reason, "amount"))
        elif _differs(amount, currency, self.ctx):
            self.emit("amount", _AMOUNT_REVISED, {"amount": _plain(amount), "currency": currency})

    def stage(self, rule: Rule, currency: str | None) -> None:
        if not _moves(rule, self.ctx.stage):
            return
        amount = _decimal(self.fields.get("Amount"))
        facts: dict[str, Any] = {
            "amount": _plain(amount) if amount is not None else self.ctx.amount,
            "currency": currency,
            "contract_id": f"salesforce-{self.fields.get('Id')}",
        }
        defaults: dict[str, Any] = {"reason": f"{self.fields.get('StageName')} in Salesforce"}
        if rule.type == "lead.sourced":
            facts |= self.lead()
            defaults |= self.lead()
        elif rule.type not in ("deal.lost", "deal.disqualified"):
            defaults = {}
        self.emit("stage", rule, facts, defaults=defaults)


def _stage_rule(n: Notification, config: SalesforceConfig) -> Rule | str | None:
    """The rule of the record's StageName; None when it makes no event; a reason when unmapped."""
    name = n.fields.get("StageName")
    if name is None:
        return None
    if name not in config.stages:
        return f"StageName {name!r} is not mapped"
    rule = config.stages[name]
    if rule is not None and rule.type not in _ENTERS and rule.type != "deal.eb_departed":
        return f"StageName {name!r} maps to {rule.type}, which sets no stage"
    return rule


async def _opportunity(n: Notification, m: _Message) -> list[Outcome]:
    fields, config = n.fields, m.config
    time = _instant(fields.get("LastModifiedDate")) or _instant(fields.get("SystemModstamp"))
    if fields.get("Id") is None or time is None:
        reason = "an Opportunity notification needs its Id and LastModifiedDate fields"
        return [_skip(n, reason)]
    if "OwnerId" in fields and config.rep(fields["OwnerId"]) is None:
        return [_skip(n, f"Salesforce user {fields['OwnerId']!r} is not mapped")]
    subject = subject_for(config.subject, fields["Id"])
    ctx = await m.context(subject, time)
    rep = config.rep(fields.get("OwnerId")) or ctx.owner_rep_id or config.default_rep_id
    if rep is None:
        return [_skip(n, "the deal has no known owner and no 'default_rep_id' is configured")]
    stage_rule = _stage_rule(n, config)
    currency = fields.get("CurrencyIsoCode") or config.currency or ctx.currency
    deal = _Opportunity(n, m, subject, time, rep, ctx, [])
    deal.created()
    deal.owner()
    deal.amount(currency, stage_rule if isinstance(stage_rule, Rule) else None)
    if isinstance(stage_rule, str):
        deal.outcomes.append(_skip(n, stage_rule, "stage"))
    elif stage_rule is not None:
        deal.stage(stage_rule, currency)
    m.contexts[subject] = deal.ctx
    return deal.outcomes


def _task_done(fields: Mapping[str, str | None]) -> bool:
    """Whether a Task is done; a message that sends neither Status nor IsClosed counts it."""
    if "Status" not in fields and "IsClosed" not in fields:
        return True
    return fields.get("Status") == "Completed" or fields.get("IsClosed") == "true"


def _call_facts(fields: Mapping[str, str | None]) -> dict[str, Any]:
    # No CallType: the rule's fixed `direction` stays (event_data drops a None fact).
    return {
        "direction": _DIRECTIONS.get(str(fields.get("CallType")).lower()),
        "duration_s": natural(fields.get("CallDurationInSeconds"), _MAX_CALL_SECONDS) or 0,
        "outcome": fields.get("CallDisposition"),
    }


async def _activity(n: Notification, m: _Message) -> list[Outcome]:
    fields, config, is_task = n.fields, m.config, n.object_type == "Task"
    kind = fields.get("TaskSubtype") if is_task else fields.get("Type")
    if str(kind) not in config.activities:
        return [_skip(n, f"{n.object_type} type {kind!r} is not mapped")]
    rule = config.activities[str(kind)]
    if rule is None:
        return []  # mapped to no event on purpose: nothing to keep
    if is_task:
        time = _call_time(fields)
    else:
        time = _instant(fields.get("StartDateTime")) or _instant(fields.get("ActivityDateTime"))
    deal, rep = fields.get("WhatId"), config.rep(fields.get("OwnerId"))
    if fields.get("Id") is None or time is None:
        return [_skip(n, f"the {n.object_type} has no Id or no date")]
    if deal is None or not deal.startswith(_OPPORTUNITY_PREFIX):
        return [_skip(n, f"the {n.object_type} is not related to an opportunity (WhatId)")]
    if rep is None:
        return [_skip(n, f"Salesforce user {fields.get('OwnerId')!r} is not mapped")]
    if is_task and not _task_done(fields):
        return [_skip(n, "the task is not completed yet")]
    if time > m.now:
        return [_skip(n, f"the {n.object_type} has not happened yet")]
    subject = subject_for(config.subject, deal)
    facts = _call_facts(fields) if rule.type == "call.logged" else {}
    data = event_data(rule, rep, facts)
    if rule.type == "call.logged" and "direction" not in data:
        return [_skip(n, "the call's direction is not known (CallType or the rule's direction)")]
    # Judged on the visits before this one, so that a retry judges it the same way.
    before = await m.context(subject, time - _JUST_BEFORE)
    if rule.type == "visit.completed" and config.first_visit_is_fsi:
        data["kind"] = "FSI" if before.visits == 0 else "FUA"
    m.contexts[subject] = _after(before, rule, data)
    key = f"{n.object_type}/{fields['Id']}"
    return [m.event(key, rule, subject, time, data, n.payload())]


def _when(n: Notification) -> str:
    """A sort key: the notification's own instant, so that a message is applied in time order."""
    fields = n.fields
    for name in ("LastModifiedDate", "StartDateTime", "CreatedDate"):
        instant = _instant(fields.get(name))
        if instant is not None:
            return instant.isoformat()
    return ""


async def map_salesforce(
    notifications: tuple[Notification, ...],
    config: SalesforceConfig,
    lookup: DealLookup,
    now: datetime | None = None,
) -> list[Outcome]:
    """Each notification of one Outbound Message as events or inbox items."""
    m = _Message(config, lookup, now or datetime.now(UTC), {})
    outcomes: list[Outcome] = []
    for n in sorted(notifications, key=_when):
        if n.object_type == "Opportunity":
            outcomes.extend(await _opportunity(n, m))
        elif n.object_type in ("Task", "Event"):
            outcomes.extend(await _activity(n, m))
        else:
            outcomes.append(_skip(n, f"{n.object_type or 'an sObject without a type'} is not read"))
    return outcomes

"""HubSpot deal webhooks (`deal.propertyChange`, `deal.creation`) to contract events.

A HubSpot item carries one changed property, not the whole deal: the rep and the amount that
a stage change needs come from what the ledger already knows of the deal at that time (its
owner and amount), then from `default_rep_id` and `currency` in the configuration.

Dedupe key: `eventId` alone is not unique, so an item's id is
`<portalId>-<objectId>-<propertyName or subscriptionType>-<occurredAt>-<eventId>`.

A delivery's items are mapped in an order of their own, never the order HubSpot listed them:
by `occurredAt`, then creation, owner, amount, other properties and stage at the same instant,
then by dedupe key. A deal created without a known owner takes the owner HubSpot set at the
same instant in the same delivery (HubSpot sends a new deal's owner as a separate item).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from service.webhooks.config import HubSpotConfig, Rule
from service.webhooks.context import DealContext, DealLookup
from service.webhooks.outcomes import Mapped, Outcome, Unmapped, content_key
from service.webhooks.rules import cloud_event, event_data, from_millis, subject_for

_REASSIGNED = Rule(type="deal.reassigned")
_AMOUNT_REVISED = Rule(type="deal.amount_revised")


def dedupe_key(item: dict[str, Any]) -> str:
    """The id of the contract event (and inbox key) made from one HubSpot item."""
    what = item.get("propertyName") or item.get("subscriptionType")
    parts = (item.get("portalId"), item.get("objectId"), what, item.get("occurredAt"))
    return "-".join(str(part) for part in (*parts, item.get("eventId")))


def _millis(item: dict[str, Any]) -> str:
    """`occurredAt` as text that sorts like the number it holds."""
    return str(item.get("occurredAt", "")).zfill(20)


def _rank(item: dict[str, Any], config: HubSpotConfig) -> int:
    """Where an item goes among the items of one instant: what later items depend on first."""
    if item.get("subscriptionType") == "deal.creation":
        return 0
    prop = item.get("propertyName")
    if prop == config.owner_property:
        return 1
    if prop == config.amount_property:
        return 2
    return 4 if prop == config.stage_property else 3


def delivery_order(items: list[dict[str, Any]], config: HubSpotConfig) -> list[dict[str, Any]]:
    """The items in the order they are mapped: the same for every order they were listed in."""
    return sorted(items, key=lambda item: (_millis(item), _rank(item, config), dedupe_key(item)))


def _owners_set(items: list[dict[str, Any]], config: HubSpotConfig) -> dict[tuple[str, str], str]:
    """The rep HubSpot made owner of each (deal, instant) in this delivery, by a mapped user."""
    owners: dict[tuple[str, str], str] = {}
    for item in items:
        rep = config.rep(item.get("propertyValue"))
        if item.get("propertyName") == config.owner_property and rep is not None:
            owners.setdefault((str(item.get("objectId")), _millis(item)), rep)
    return owners


def _rule(item: dict[str, Any], config: HubSpotConfig) -> Rule | str:
    """The rule an item triggers, or why it triggers none."""
    kind = item.get("subscriptionType")
    if kind == "deal.creation":
        return config.deal_created or "deal.creation is not mapped (no 'deal_created' rule)"
    if kind != "deal.propertyChange":
        return f"subscription type {kind!r} is not mapped"
    prop, value = item.get("propertyName"), item.get("propertyValue")
    if prop == config.stage_property:
        return config.stages.get(str(value)) or f"deal stage {value!r} is not mapped"
    if prop == config.amount_property:
        return _AMOUNT_REVISED
    if prop == config.owner_property:
        return _REASSIGNED if config.rep(value) else f"HubSpot owner {value!r} is not mapped"
    return f"deal property {prop!r} is not mapped"


def _facts(
    item: dict[str, Any], rule: Rule, config: HubSpotConfig, ctx: DealContext
) -> dict[str, Any]:
    deal = item.get("objectId")
    revised = rule is _AMOUNT_REVISED
    return {
        "amount": item.get("propertyValue") if revised else ctx.amount,
        "currency": config.currency if revised else (ctx.currency or config.currency),
        "contract_id": f"hubspot-{deal}",
        "to_rep_id": config.rep(item.get("propertyValue")) if rule is _REASSIGNED else None,
        "account": {"name": f"HubSpot deal {deal}"},
    }


def _after(ctx: DealContext, rule: Rule, data: dict[str, Any]) -> DealContext:
    """The context once this event is applied: later items of the same delivery see it."""
    if rule.type == "deal.reassigned":
        ctx = replace(ctx, owner_rep_id=data.get("to_rep_id"))
    elif rule.type == "lead.sourced":
        ctx = replace(ctx, owner_rep_id=data["rep_id"])
    if "amount" in data and "currency" in data:
        ctx = replace(ctx, amount=str(data["amount"]), currency=str(data["currency"]))
    return ctx


async def map_hubspot(items: list[Any], config: HubSpotConfig, lookup: DealLookup) -> list[Outcome]:
    """Each item of a HubSpot delivery, in `delivery_order`, as an event or an inbox item."""
    readable = delivery_order([item for item in items if isinstance(item, dict)], config)
    owners = _owners_set(readable, config)
    contexts: dict[str, DealContext] = {}
    outcomes: list[Outcome] = [
        Unmapped(content_key(item), "not a JSON object", item)
        for item in items
        if not isinstance(item, dict)
    ]
    for item in readable:
        key = dedupe_key(item)
        time, deal = from_millis(item.get("occurredAt")), item.get("objectId")
        rule = _rule(item, config)
        if time is None or deal is None:
            outcomes.append(Unmapped(key, "no objectId or occurredAt: not a deal event", item))
            continue
        if isinstance(rule, str):
            outcomes.append(Unmapped(key, rule, item))
            continue
        subject = subject_for(config.subject, deal)
        ctx = contexts.get(subject) or await lookup(subject, time)
        facts = _facts(item, rule, config, ctx)
        created = item.get("subscriptionType") == "deal.creation"
        set_now = owners.get((str(deal), _millis(item))) if created else None
        rep = ctx.owner_rep_id or facts["to_rep_id"] or set_now or config.default_rep_id
        if rep is None:
            reason = "the deal has no known owner and no 'default_rep_id' is configured"
            outcomes.append(Unmapped(key, reason, item))
            continue
        data = event_data(rule, rep, facts)
        contexts[subject] = _after(ctx, rule, data)
        event = cloud_event(
            source=config.source, event_id=key, rule=rule, subject=subject, time=time, data=data
        )
        outcomes.append(Mapped(key, event, item))
    return outcomes

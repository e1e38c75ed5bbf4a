"""Replaying the inbox: kept vendor items mapped again, with the mapping as it is now.

An item maps to the same events, with the same ids, however often it is replayed, so a replay
stores each event once (a later one finds it a duplicate). An item that maps now is marked and
not replayed again; one that still does not map stays, with its new reason. A vendor's waiting
items are mapped together, as one delivery: a HubSpot deal's creation waits for its owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from service.events.envelope import CloudEvent, EnvelopeError, parse_event
from service.store.errors import AppendRejected
from service.store.log.appender import EventAppender
from service.webhooks.aircall import map_aircall
from service.webhooks.config import WebhookConfig
from service.webhooks.context import DealLookup
from service.webhooks.hubspot import map_hubspot
from service.webhooks.inbox import InboxItem, WebhookInbox
from service.webhooks.outcomes import UNREADABLE, Mapped, Outcome, Unmapped
from service.webhooks.pipedrive import map_pipedrive
from service.webhooks.standard import map_standard

STANDARD = "standard:"


@dataclass(frozen=True, slots=True)
class Replayed:
    """What one replay made of one inbox item."""

    id: int
    vendor: str
    key: str
    status: Literal["mapped", "inbox"]
    reason: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


def _unconfigured(item: InboxItem) -> Unmapped:
    return Unmapped(item.key, f"no {item.vendor!r} webhook receiver is configured", item.payload)


async def _map_vendor(
    vendor: str, items: Sequence[InboxItem], config: WebhookConfig, lookup: DealLookup
) -> list[list[Outcome]]:
    """What each item maps to now (one list per item, in order)."""
    if vendor == "hubspot" and config.hubspot is not None:
        outcomes = await map_hubspot([i.payload for i in items], config.hubspot, lookup)
        return [[o for o in outcomes if o.key == item.key] for item in items]
    mapped: list[list[Outcome]] = []
    for item in items:
        if vendor == "pipedrive" and config.pipedrive is not None:
            mapped.append(map_pipedrive(item.payload, config.pipedrive))
        elif vendor == "aircall" and config.aircall is not None:
            mapped.append(map_aircall(item.payload, config.aircall))
        elif vendor.startswith(STANDARD) and vendor[len(STANDARD) :] in config.standard:
            sender = vendor[len(STANDARD) :]
            outcomes = map_standard([item.payload], sender, config.standard[sender], "")
            mapped.append([replace(o, key=item.key) for o in outcomes])
        else:
            mapped.append([_unconfigured(item)])
    return mapped


def _own(item: InboxItem, outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes of this item: those of its key, else all its payload maps to.

    A payload may map to several events (a Pipedrive change: stage, owner, value); the item
    kept is one of them, or the whole payload when none could be made.
    """
    if item.reason == UNREADABLE:
        return [Unmapped(item.key, UNREADABLE, item.payload)]
    return [o for o in outcomes if o.key == item.key] or outcomes


def _events(outcomes: list[Outcome], now: datetime) -> list[CloudEvent] | str:
    """The item's events, or why it still cannot be stored."""
    reasons = [o.reason for o in outcomes if isinstance(o, Unmapped)]
    if reasons or not outcomes:
        return "; ".join(reasons) or "the item maps to no event"
    try:
        return [parse_event(o.event, now=now) for o in outcomes if isinstance(o, Mapped)]
    except EnvelopeError as exc:
        return f"the mapped event is invalid: {exc}"


class InboxReplay:
    """Maps kept items again and stores what they map to, exactly once."""

    def __init__(
        self,
        appender: EventAppender,
        inbox: WebhookInbox,
        config: WebhookConfig,
        lookup: DealLookup,
    ) -> None:
        self._appender, self._inbox = appender, inbox
        self._config, self._lookup = config, lookup

    async def replay(self, items: Sequence[InboxItem], actor: str) -> list[Replayed]:
        """Replay the items, each vendor's as one delivery, oldest first."""
        vendors = dict.fromkeys(item.vendor for item in items)
        done: list[Replayed] = []
        for vendor in vendors:
            mine = [item for item in items if item.vendor == vendor]
            mapped = await _map_vendor(vendor, mine, self._config, self._lookup)
            for item, outcomes in zip(mine, mapped, strict=True):
                done.append(await self._settle(item, _own(item, outcomes), actor))
        return sorted(done, key=lambda replayed: replayed.id)

    async def _settle(self, item: InboxItem, outcomes: list[Outcome], actor: str) -> Replayed:
        events = _events(outcomes, datetime.now(UTC))
        if isinstance(events, list):
            metadata = {"actor": actor, "webhook": item.vendor, "inbox_id": item.id}
            try:
                results = await self._appender.append(events, metadata)
            except AppendRejected as exc:
                events = f"refused by the ledger: {exc.items[0].detail}"
            else:
                await self._inbox.mark_mapped(item.id)
                stored = [
                    {"source": r.source, "id": r.id, "status": r.status, "position": r.position}
                    for r in results
                ]
                return Replayed(item.id, item.vendor, item.key, "mapped", results=stored)
        await self._inbox.mark_unmapped(item.id, events)
        return Replayed(item.id, item.vendor, item.key, "inbox", reason=events)

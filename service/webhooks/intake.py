"""Taking in a mapped delivery: events through the one write path, the rest into the inbox.

A delivery is not atomic the way a `POST /v1/events` batch is: a vendor cannot fix a refused
item, so each item is either stored (or found to be a duplicate) or kept in the inbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.events.envelope import CloudEvent, EnvelopeError, parse_event
from service.store.errors import AppendRejected
from service.store.log.appender import AppendResult, EventAppender
from service.webhooks.inbox import NewInboxItem, WebhookInbox
from service.webhooks.outcomes import Mapped, Outcome


@dataclass(slots=True)
class Receipt:
    """What became of a delivery's items."""

    results: list[dict[str, Any]] = field(default_factory=list)
    inboxed: int = 0

    @property
    def created(self) -> int:
        """How many new events were stored."""
        return sum(1 for r in self.results if r["status"] == "created")

    @property
    def status_code(self) -> int:
        """201 if an event was stored, 202 if only new inbox items, 200 if all was known."""
        if self.created:
            return 201
        return 202 if self.inboxed else 200


def _result(result: AppendResult) -> dict[str, Any]:
    return {
        "source": result.source,
        "id": result.id,
        "status": result.status,
        "position": result.position,
        "stream_version": result.stream_version,
    }


class Intake:
    """Stores what a vendor delivery maps to, exactly once."""

    def __init__(self, appender: EventAppender, inbox: WebhookInbox) -> None:
        self._appender = appender
        self._inbox = inbox

    async def take(self, vendor: str, outcomes: Sequence[Outcome], actor: str) -> Receipt:
        """Validate and append the events; keep every other item in the inbox."""
        now = datetime.now(UTC)
        kept: list[NewInboxItem] = []
        valid: list[tuple[Mapped, CloudEvent]] = []
        for outcome in outcomes:
            if not isinstance(outcome, Mapped):
                kept.append(NewInboxItem(outcome.key, outcome.reason, outcome.payload))
                continue
            try:
                valid.append((outcome, parse_event(outcome.event, now=now)))
            except EnvelopeError as exc:
                reason = f"the mapped event is invalid: {exc}"
                kept.append(NewInboxItem(outcome.key, reason, outcome.payload))
        receipt = Receipt()
        receipt.results = await self._append(valid, kept, {"actor": actor, "webhook": vendor})
        receipt.inboxed = await self._inbox.keep(vendor, kept)
        receipt.results.extend({"key": k.key, "status": "inbox", "reason": k.reason} for k in kept)
        return receipt

    async def _append(
        self,
        valid: list[tuple[Mapped, CloudEvent]],
        kept: list[NewInboxItem],
        metadata: dict[str, Any],
    ) -> list[dict[str, Any]]:
        if not valid:
            return []
        try:
            results = await self._appender.append([event for _, event in valid], metadata)
        except AppendRejected:
            return await self._one_by_one(valid, kept, metadata)
        return [_result(result) for result in results]

    async def _one_by_one(
        self,
        valid: list[tuple[Mapped, CloudEvent]],
        kept: list[NewInboxItem],
        metadata: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """After a refused batch, store what can be stored and keep what the ledger refuses."""
        results: list[dict[str, Any]] = []
        for outcome, event in valid:
            try:
                [result] = await self._appender.append([event], metadata)
            except AppendRejected as exc:
                reason = f"refused by the ledger: {exc.items[0].detail}"
                kept.append(NewInboxItem(outcome.key, reason, outcome.payload))
            else:
                results.append(_result(result))
        return results

"""Standard Webhooks carrying contract CloudEvents (one object, or an array of them).

Dedupe: each CloudEvent's own (`source`, `id`), as on `POST /v1/events`; a sender may only use
the sources it is configured for. Inbox key: `<webhook-id>:<index>`.

Such a sender speaks our own contract and can fix what it sends, so an invalid event is
answered (`contract_errors`, the same errors `POST /v1/events` gives) rather than kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.events.envelope import EnvelopeError, parse_event
from service.webhooks.config import StandardSender
from service.webhooks.outcomes import Mapped, Outcome, Unmapped


def contract_errors(
    items: list[Any], sender: str, config: StandardSender, now: datetime
) -> list[dict[str, Any]]:
    """Each problem of the delivery's events, as `{index, pointer, detail}`; none if all valid."""
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        source = item.get("source") if isinstance(item, dict) else None
        if isinstance(source, str) and not config.allows(sender, source):
            detail = f"sender {sender!r} may not use source {source!r}"
            errors.append({"index": index, "pointer": "/source", "detail": detail})
            continue
        try:
            parse_event(item, now=now)
        except EnvelopeError as exc:
            errors.extend(
                {"index": index, "pointer": e.pointer, "detail": e.detail} for e in exc.errors
            )
    return errors


def map_standard(body: Any, sender: str, config: StandardSender, msg_id: str) -> list[Outcome]:
    """The CloudEvents of one delivery; items that are not, or not this sender's, to the inbox."""
    items = body if isinstance(body, list) else [body]
    outcomes: list[Outcome] = []
    for index, item in enumerate(items):
        key = f"{msg_id}:{index}"
        source = item.get("source") if isinstance(item, dict) else None
        if not isinstance(item, dict):
            outcomes.append(Unmapped(key, "not a CloudEvent (a JSON object)", item))
        elif not isinstance(source, str) or not config.allows(sender, source):
            outcomes.append(Unmapped(key, f"sender {sender!r} may not use source {source!r}", item))
        else:
            outcomes.append(Mapped(key, item, item))
    return outcomes

"""Standard Webhooks carrying contract CloudEvents (one object, or an array of them).

Dedupe: each CloudEvent's own (`source`, `id`), as on `POST /v1/events`; a sender may only use
the sources it is configured for. Inbox key: `<webhook-id>:<index>`.
"""

from __future__ import annotations

from typing import Any

from service.webhooks.config import StandardSender
from service.webhooks.outcomes import Mapped, Outcome, Unmapped


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

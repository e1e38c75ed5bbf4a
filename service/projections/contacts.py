"""A deal's last contact: the latest call, visit or other contact with the client."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from service.events.recorded import RecordedEvent
from service.events.vocabulary import CALL_LOGGED
from service.projections.knowledge import visible
from service.projections.rules import RULES

CONTACT_TYPES: Final = frozenset({"lead.contacted", *RULES.split_kind.event_types, CALL_LOGGED})
"""The events that are a contact with the client: a first contact, a visit, a call."""


def last_contact(
    events: Iterable[RecordedEvent], *, as_of: datetime, known_at: datetime
) -> datetime | None:
    """When the latest contact event counting at (`as_of`, `known_at`) happened; None without."""
    contacts = [
        event.occurred_at
        for event in visible(events, as_of=as_of, known_at=known_at)
        if event.type in CONTACT_TYPES
    ]
    return max(contacts, default=None)

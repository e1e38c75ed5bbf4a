"""`parse_event` checks an event's `type` as an identifier only when it is not a known type:
the errors of every other `type` are the ones the full checks give."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.events.envelope import EnvelopeError, parse_event
from service.events.text import identifier_problem
from service.events.vocabulary import EVENT_TYPES

NOW = datetime(2026, 1, 12, 12, tzinfo=UTC)


def _event(event_type: object) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "e-1",
        "source": "crm",
        "type": event_type,
        "subject": "D-1",
        "time": "2026-01-12T10:00:00Z",
        "data": {"rep_id": "R-1", "account": {"name": "Acme"}, "channel": "web"},
    }


def test_every_known_type_is_a_plain_identifier() -> None:
    """What makes skipping the identifier checks of a known type lose nothing."""
    for name in EVENT_TYPES:
        assert identifier_problem(name) is None
        assert 0 < len(name) <= 128


def test_a_known_type_is_accepted() -> None:
    assert parse_event(_event("lead.sourced"), now=NOW).type == "lead.sourced"


@pytest.mark.parametrize(
    ("event_type", "details"),
    [
        ("lead.sourced\u200b", ["an identifier may not contain U+200B", "unknown event type"]),
        (" lead.sourced", ["may not start or end with a space", "unknown event type"]),
        ("x" * 129, ["'type' is longer than 128 characters", "unknown event type"]),
        ("", ["'type' is required"]),
        (None, ["'type' is required"]),
        (7, ["'type' is required"]),
        ("lead.unknown", ["unknown event type 'lead.unknown'"]),
    ],
)
def test_an_unknown_type_gets_every_check(event_type: object, details: list[str]) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_event(_event(event_type), now=NOW)
    found = [error.detail for error in caught.value.errors if error.pointer == "/type"]
    assert len(found) == len(details)
    for detail, expected in zip(found, details, strict=True):
        assert expected in detail

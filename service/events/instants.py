"""The canonical text of an instant: ISO 8601 in UTC, microseconds only when non-zero.

The text `datetime.isoformat` gives an instant in UTC, written by orjson (twice as fast):
`tests/unit/test_instants.py` holds the two equal.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson


def utc_iso_json(instant: datetime) -> bytes:
    """The instant's canonical text as a JSON string (with its quotes)."""
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return orjson.dumps(instant)


def utc_iso(instant: datetime) -> str:
    """The instant's canonical text."""
    return utc_iso_json(instant)[1:-1].decode()

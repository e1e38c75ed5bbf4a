"""Instants: the one range the service accepts, RFC 3339 text, and the canonical text.

Every instant the service takes in (event `time`, query instants, dates and periods, key
expiries, export ranges) must lie in [`EARLIEST`, `LATEST`): far wider than any sales history,
and far inside what Python, the driver and PostgreSQL can each hold, so that no offset or
end-of-day arithmetic on an accepted instant can overflow, and no stored instant reads back as
PostgreSQL's `-infinity` or `infinity` (docs/security.md, "Instants").

The canonical text is the text `datetime.isoformat` gives an instant in UTC, written by orjson
(twice as fast): `tests/unit/test_instants.py` holds the two equal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The first instant accepted (included)."""
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""The end of the accepted range (excluded)."""
RANGE_TEXT = "between 1900-01-01T00:00:00Z (included) and 2200-01-01T00:00:00Z (excluded)"

# RFC 3339 `date-time`, ASCII digits only: no ISO 8601 week, ordinal or basic forms, no offset
# without its colon. `fromisoformat` alone accepts all of those.
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
_OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
RFC3339_DATE = re.compile(_DATE)
"""A full date, `YYYY-MM-DD` (use `fullmatch`)."""
RFC3339 = re.compile(f"{_DATE}[Tt]{_TIME}{_OFFSET}")
"""An RFC 3339 date-time with its offset (use `fullmatch`)."""
LOCAL_DATE_TIME = re.compile(f"{_DATE}[Tt ]{_TIME}{_OFFSET}?")
"""An RFC 3339 date-time whose offset may be left out (read in a given zone), `T` or a space
between date and time (use `fullmatch`)."""


def in_range(instant: datetime) -> bool:
    """Whether `instant` lies in [`EARLIEST`, `LATEST`).

    A naive value is never in range: the driver reads PostgreSQL's `-infinity` and `infinity`
    as naive `datetime.min` and `datetime.max`, and an aware value is all it reads otherwise.
    """
    return instant.tzinfo is not None and EARLIEST <= instant < LATEST


def as_stored(instant: datetime) -> datetime:
    """A `timestamptz` value as read, made aware: the driver reads `-infinity` and `infinity`
    as naive `datetime.min` and `datetime.max`, which it writes for those instants in UTC."""
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def parse_date_time(text: str, *, offset_required: bool = True) -> datetime:
    """An RFC 3339 date-time (ValueError otherwise); naive if its offset was left out.

    Without `offset_required` the offset may be left out and a space may separate date and
    time, as query strings have them. The range is not checked here (see `check_range`).
    """
    shape = RFC3339 if offset_required else LOCAL_DATE_TIME
    if not shape.fullmatch(text):
        raise ValueError(f"{text!r} is not an RFC 3339 date-time (such as 2026-01-12T10:00:00Z)")
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date-time") from None


def check_range(instant: datetime, text: str) -> datetime:
    """`instant` in UTC if it lies in the accepted range; ValueError naming `text` otherwise."""
    try:
        in_utc = instant.astimezone(UTC)
    except OverflowError:  # `0001-01-01T00:00:00+14:00` lies before year 1 in UTC
        in_utc = None
    if in_utc is None or not in_range(in_utc):
        raise ValueError(f"{text!r} is out of range: instants must lie {RANGE_TEXT}")
    return in_utc


def utc_iso_json(instant: datetime) -> bytes:
    """The instant's canonical text as a JSON string (with its quotes)."""
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return orjson.dumps(instant)


def utc_iso(instant: datetime) -> str:
    """The instant's canonical text."""
    return utc_iso_json(instant)[1:-1].decode()

"""Reading the values of an export: instants, dates, amounts, integers, booleans.

Salesforce writes instants as `2026-01-05T02:00:00.000Z` (Data Loader, Bulk API) or
`2026-01-05T02:00:00.000+0000` (SOAP and REST); HubSpot as `2026-01-05T02:00:00.000Z` or epoch
milliseconds. Every reader raises `ValueError` with a short reason.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

_AMOUNT = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,12})?")
_INTEGER = re.compile(r"[0-9]{1,12}")


def instant(text: str) -> datetime:
    """A UTC instant from an ISO 8601 text with an offset (`Z`, `+0000`, `+00:00`)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def epoch_or_instant(value: object) -> datetime:
    """A UTC instant from epoch milliseconds (a number or its digits) or an ISO 8601 text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and _INTEGER.fullmatch(value) and len(value) > 8:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    if isinstance(value, str):
        return instant(value)
    raise ValueError(f"{value!r} is not a date and time")


def day(text: str) -> date:
    """A calendar date, `YYYY-MM-DD`."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def midday(value: date) -> datetime:
    """Noon UTC of a date: an instant on that same date in every zone from UTC-11 to UTC+11."""
    return datetime.combine(value, time(12), UTC)


def amount(text: str) -> Decimal:
    """A plain decimal amount, such as `125000` or `125000.50`."""
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"{text!r} is not an amount")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if value < 0:
        raise ValueError(f"{text!r} is a negative amount")
    return value


def amount_text(value: Decimal) -> str:
    """An amount as the contract's decimal string, without an exponent or trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def count(text: str) -> int:
    """A non-negative integer of ASCII digits (a blank cell is 0)."""
    if not text:
        return 0
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def boolean(text: str) -> bool | None:
    """`true` / `false` as Salesforce writes them (a blank cell is unknown)."""
    lowered = text.lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    if not text:
        return None
    raise ValueError(f"{text!r} is not true or false")

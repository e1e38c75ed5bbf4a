"""Durations as people type them: `90s`, `30m`, `24h`, `7d`."""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = r"^[0-9]{1,6}[smhd]$"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_DURATION = timedelta(days=90)


def parse_duration(text: str) -> timedelta:
    """A duration such as `24h`; ValueError if unreadable or longer than 90 days."""
    value = text.strip().lower()
    if not re.fullmatch(DURATION_PATTERN, value):
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 24h or 7d")
    duration = timedelta(**{_UNITS[value[-1]]: int(value[:-1])})
    if duration > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than 90 days")
    return duration

"""Whole numbers written by others: ASCII digits only, and never more than fit in 64 bits."""

from __future__ import annotations

MAX_INT64 = 2**63 - 1
_MAX_LENGTH = len(str(MAX_INT64))


def natural(text: str | None, maximum: int = MAX_INT64) -> int | None:
    """The non-negative integer `text` spells in ASCII digits, if at most `maximum`; else None.

    `str.isdigit` also admits '²' (which `int` then refuses with a ValueError) and '٣' (which
    `int` reads as 3): only 0-9 count here, with no sign, space or underscore. The length is
    checked first, so a megabyte of digits is never converted.
    """
    if text is None or not 0 < len(text) <= _MAX_LENGTH:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= maximum else None

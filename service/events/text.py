"""What text an event may carry: identifiers that look like what they are, names without controls.

An identifier (an event id or source, a rep, team or contract id) is compared byte for byte,
so two that look the same must be the same: no control or format characters (bidi controls,
zero-width spaces and joiners, the byte order mark, soft hyphens), no line separators and no
space at either end. A name or label is shown to people: any printable text, without control
characters, line breaks or the bidi controls that reorder the text around them. A note (a
reason) may also hold tabs and line breaks.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# Categories no identifier may hold: controls (Cc), format characters (Cf: bidi controls,
# U+200B-U+200D, U+2060, U+FEFF, U+00AD...), line and paragraph separators (Zl, Zp).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Printable ASCII with spaces only inside: nearly every identifier, passed by one regex match.
_PLAIN_ASCII = re.compile(r"[!-~]+(?: +[!-~]+)*")
# C0 and C1 controls, DEL, U+2028/U+2029, and the bidi embeddings, overrides and isolates. The
# bidi marks (U+200E, U+200F, U+061C) and the joiners stay: right-to-left names and some
# scripts (Persian's zero-width non-joiner) need them.
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NOTE_FORBIDDEN = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def identifier_problem(value: str) -> str | None:
    """Why `value` cannot be an identifier, or None if it can."""
    if _PLAIN_ASCII.fullmatch(value):
        return None
    if value[:1].isspace() or value[-1:].isspace():
        return "an identifier may not start or end with a space"
    for char in value:
        if unicodedata.category(char) in _HIDDEN_CATEGORIES:
            return (
                f"an identifier may not contain U+{ord(char):04X} "
                "(control, format, bidi or zero-width characters)"
            )
    return None


def _identifier(value: str) -> str:
    """`value`, if it may be an identifier; else ValueError."""
    if problem := identifier_problem(value):
        raise ValueError(problem)
    return value


def name_text(value: str) -> str:
    """`value`, if it may be a name or label; else ValueError."""
    if found := _NAME_FORBIDDEN.search(value):
        raise ValueError(
            f"text may not contain U+{ord(found.group()):04X} (control characters, line "
            "breaks or bidi embeddings, overrides and isolates)"
        )
    return value


def _note(value: str) -> str:
    if found := _NOTE_FORBIDDEN.search(value):
        raise ValueError(
            f"text may not contain U+{ord(found.group()):04X} (control characters other than "
            "tab and line breaks, or bidi embeddings, overrides and isolates)"
        )
    return value


_IS_IDENTIFIER = AfterValidator(_identifier)
ShortId = Annotated[str, StringConstraints(min_length=1, max_length=128), _IS_IDENTIFIER]
"""An identifier of up to 128 characters: a rep or a team."""
LongId = Annotated[str, StringConstraints(min_length=1, max_length=512), _IS_IDENTIFIER]
"""An identifier of up to 512 characters: a contract, or the source and id of an event."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(name_text)]
"""A name or a label: one line of printable text."""
Note = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_note)]
"""Free text such as a reason: may also span lines."""

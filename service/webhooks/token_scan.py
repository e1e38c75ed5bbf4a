"""A first look for a vendor's shared token in a raw JSON body, before the body is parsed.

Aircall authenticates a delivery by a `token` member inside its JSON body: checking it properly
needs the parsed body, and parsing a megabyte of hostile JSON costs tens of megabytes of
objects. This scan finds every `"token": "<text>"` in the raw bytes (one linear pass, nothing
built) and compares each value with the expected token in constant time; a body in which none
matches cannot carry the token and is refused unparsed. The full check after parsing decides.
"""

from __future__ import annotations

import hmac
import re

from service.webhooks.signatures import Unauthenticated

_TOKEN_MEMBER = re.compile(rb'"token"[ \t\r\n]*:[ \t\r\n]*"([^"\\]*)"')
_PLAIN = re.compile(r"[A-Za-z0-9._~+=-]+")
"""Tokens no JSON encoder escapes: only those can be found verbatim in the raw body."""


def may_carry_token(body: bytes, token: str) -> bool:
    """False when `body` certainly holds no `"token"` member equal to `token`."""
    if not _PLAIN.fullmatch(token):
        return True  # it may be written with escapes: only the parsed body can tell
    expected = token.encode()
    found = False
    for match in _TOKEN_MEMBER.finditer(body):
        # Every candidate is compared, whatever the earlier ones gave: no early exit to time.
        found |= hmac.compare_digest(match.group(1), expected)
    return found


def check_token_scanned(body: bytes, token: str) -> None:
    """Refuse, unparsed, a body that cannot carry the token."""
    if not may_carry_token(body, token):
        raise Unauthenticated("the token in the body is missing or wrong")

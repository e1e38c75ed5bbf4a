"""How each vendor proves a delivery is its own: signatures, timestamps, credentials, tokens.

Every check compares in constant time and raises `Unauthenticated` with a reason that names no
secret; nothing here logs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from service.digits import natural
from service.webhooks.config import WHSEC_PREFIX

# HubSpot signs the URI with these escapes decoded (its documented list).
_HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


@dataclass(frozen=True, slots=True)
class Unauthenticated(Exception):  # noqa: N818 - an outcome of a check, as vendors name it
    """The delivery cannot be shown to come from the vendor; nothing of it may be stored."""

    reason: str
    expired: bool = False

    def __str__(self) -> str:
        return self.reason


def check_timestamp(sent_at: float, now: float, tolerance: float) -> None:
    """Refuse a delivery signed too long ago (or too far ahead): it may be a replay."""
    if abs(now - sent_at) > tolerance:
        reason = "the delivery's timestamp is outside the tolerance window"
        raise Unauthenticated(reason, expired=True)


def required(value: str | None, what: str) -> str:
    """A header value that must be present, or `Unauthenticated` naming it."""
    if not value:
        raise Unauthenticated(f"the {what} header is missing")
    return value


def parse_int(value: str | None, what: str) -> int:
    """An integer header value, or `Unauthenticated` naming it."""
    number = natural(value)
    if number is None:
        raise Unauthenticated(f"the {what} header is missing or not an integer")
    return number


def _hmac_b64(key: bytes, message: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())


def hubspot_uri(uri: str) -> str:
    """The request URI as HubSpot signs it: certain percent-escapes decoded."""
    for escaped, char in _HUBSPOT_DECODED.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    return uri


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method, URI, body and timestamp."""
    message = method.encode() + hubspot_uri(uri).encode() + body + timestamp.encode()
    return _hmac_b64(secret.encode(), message).decode()


def check_hubspot(
    secret: str, method: str, uri: str, body: bytes, timestamp: str, signature: str | None
) -> None:
    """Refuse a HubSpot delivery whose v3 signature does not match."""
    expected = hubspot_v3_signature(secret, method, uri, body, timestamp)
    if not signature or not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Unauthenticated("the X-HubSpot-Signature-v3 signature does not match")


def whsec_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (`whsec_` and base64)."""
    return base64.b64decode(secret.removeprefix(WHSEC_PREFIX))


def standard_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """One `v1,<base64>` signature over `id.timestamp.body`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + _hmac_b64(whsec_key(secret), signed).decode()


def check_standard(
    secrets: Iterable[str], msg_id: str, timestamp: str, body: bytes, header: str | None
) -> None:
    """Refuse a Standard Webhooks delivery that no current secret signed (rotation: any one)."""
    offered = [part.encode() for part in (header or "").split() if part.startswith("v1,")]
    for secret in secrets:
        try:
            expected = standard_signature(secret, msg_id, timestamp, body).encode()
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise Unauthenticated("no webhook-signature matches a configured secret")


def check_basic(header: str | None, username: str, password: str) -> None:
    """Refuse a delivery without the configured HTTP Basic credentials."""
    scheme, _, encoded = (header or "").partition(" ")
    try:
        user, _, given = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        user, given = "", ""
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    password_ok = hmac.compare_digest(given.encode(), password.encode())
    if scheme.lower() != "basic" or not (user_ok and password_ok):
        raise Unauthenticated("HTTP Basic credentials are missing or wrong")


def check_token(given: object, token: str) -> None:
    """Refuse a delivery whose body token is not the configured one."""
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthenticated("the token in the body is missing or wrong")


def check_query_secret(given: list[str], secret: str) -> None:
    """Refuse a delivery whose URL does not carry the configured secret exactly once
    (Salesforce Outbound Messages cannot sign: the endpoint URL holds the secret)."""
    if len(given) != 1 or not hmac.compare_digest(given[0].encode(), secret.encode()):
        raise Unauthenticated("the endpoint URL's token is missing or wrong")


def check_salesforce_org(given: str, expected: str) -> None:
    """Refuse a message from another Salesforce organization. An id's 18-character form is its
    15-character one and a case checksum: either form matches the other."""
    if not hmac.compare_digest(given[:15].encode(), expected[:15].encode()):
        raise Unauthenticated("the message comes from another Salesforce organization")

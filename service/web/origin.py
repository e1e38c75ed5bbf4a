"""Same-origin checks for the dashboard's state-changing requests.

A browser names the page that sent a form in `Origin` (every modern browser, on every POST) or
at least in `Referer`. A request carrying neither, or naming another site, is refused: the
session cookie is SameSite=Strict, and this check keeps a cross-site form from signing a victim
in with the attacker's key or out of their own session.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
"""Scheme, host and port, lower case, the port made explicit."""


def origin_of(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL, or None (`null`, another scheme, no host)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port that is no number or out of range
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def expected_origin(request: Request, public_url: str | None) -> Origin | None:
    """This site's origin: the configured public URL's, else the request's own."""
    if public_url is not None:
        return origin_of(public_url)
    return origin_of(f"{request.url.scheme}://{request.headers.get('host', '')}")


def same_origin(request: Request, public_url: str | None) -> bool:
    """Whether the request names this site by `Origin`, or by `Referer` when `Origin` is absent."""
    sent = request.headers.get("origin")
    if sent is None:
        sent = request.headers.get("referer")
    if sent is None:
        return False
    expected = expected_origin(request, public_url)
    return expected is not None and origin_of(sent) == expected

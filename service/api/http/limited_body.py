"""Reading request bodies with a hard size limit, checked before any parsing."""

from __future__ import annotations

from fastapi import Request

from service.api.http.problems import Problem

_MAX_DIGITS = 18
"""More digits than this is more than any limit (and than a 64-bit integer holds)."""


def too_large(limit: int) -> Problem:
    """The 413 problem for a body over `limit` bytes."""
    return Problem(
        413,
        "payload-too-large",
        f"the body is larger than {limit} bytes",
        title="Content Too Large",
        # The unread rest of the body is not worth draining: the connection ends here.
        headers={"Connection": "close"},
        limit_bytes=limit,
    )


def declared_length(value: bytes | str) -> int | None:
    """A `Content-Length` of ASCII digits only, else None (`²`, `+1` or ` 10` are no numbers)."""
    raw = value.encode("latin-1") if isinstance(value, str) else value
    if not raw or not raw.isdigit():  # bytes.isdigit is ASCII-only, unlike str.isdigit
        return None
    return int(raw) if len(raw) <= _MAX_DIGITS else 10**_MAX_DIGITS


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (declared_length(declared) or 0) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)

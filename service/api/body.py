"""Reading request bodies with a hard size limit, checked before any parsing."""

from __future__ import annotations

from fastapi import Request

from service.api.problems import Problem
from service.digits import natural


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        "payload-too-large",
        f"the body is larger than {limit} bytes",
        title="Content Too Large",
        limit_bytes=limit,
    )


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    size_declared = natural(declared)
    if size_declared is not None and size_declared > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)

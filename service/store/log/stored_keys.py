"""Which idempotency keys the log already holds, with their content fingerprints."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_FINGERPRINTS = text(
    """
    SELECT e.source, e.event_id, e.fingerprint
    FROM events e
    JOIN unnest(CAST(:sources AS text[]), CAST(:ids AS text[])) AS k(source, event_id)
      ON e.source = k.source AND e.event_id = k.event_id
    """
)
_PAGE = 5000


async def stored_fingerprints(
    engine: AsyncEngine, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], bytes]:
    """The fingerprint of each key of `keys` that is stored (absent keys are left out)."""
    found: dict[tuple[str, str], bytes] = {}
    async with engine.connect() as conn:
        for start in range(0, len(keys), _PAGE):
            page = keys[start : start + _PAGE]
            rows = await conn.execute(
                _FINGERPRINTS,
                {"sources": [key[0] for key in page], "ids": [key[1] for key in page]},
            )
            found.update({(row.source, row.event_id): bytes(row.fingerprint) for row in rows})
    return found

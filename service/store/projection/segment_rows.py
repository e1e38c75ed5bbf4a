"""Deal segments as rows of the segments table, for COPY."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from service.projections.bitemporal import KnownSegment

SEGMENT_COLUMNS = (
    "deal_id",
    "valid_from",
    "valid_to",
    "known_from",
    "known_to",
    "stage",
    "owner_rep_id",
)
"""The segment table's columns, in the order of `segment_records`."""

SegmentRecord = tuple[str, datetime, datetime, datetime, datetime, str | None, str | None]

INFINITY = datetime.max  # noqa: DTZ901 - asyncpg's own marker for infinity is naive
"""What asyncpg writes as timestamptz 'infinity' (an open end is stored as infinity)."""


def segment_records(deal_id: str, history: Iterable[KnownSegment]) -> list[SegmentRecord]:
    """A deal's history as rows of the segments table (open ends as infinity)."""
    return [
        (
            deal_id,
            row.segment.valid_from,
            INFINITY if row.segment.valid_to is None else row.segment.valid_to,
            row.known_from,
            INFINITY if row.known_to is None else row.known_to,
            row.segment.stage,
            row.segment.owner_rep_id,
        )
        for row in history
    ]

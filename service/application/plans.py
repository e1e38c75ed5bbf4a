"""The plan (targets and team priorities) as known at an instant, at a snapshot."""

from __future__ import annotations

from datetime import datetime

from service.application.consistent_reads import Consistency, Read, snapshot
from service.application.services import Services
from service.projections.targets import Plan
from service.store.queries.plans import plan_known_at


async def read_plan(
    services: Services,
    *,
    known_at: datetime,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> Read[Plan]:
    """Every target and priority list recorded by `known_at` and not retracted then."""
    async with snapshot(services, min_position, consistency) as snap:
        return Read(await plan_known_at(snap.conn, known_at), snap.position)

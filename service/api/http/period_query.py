"""Query parameters shared by the analytics, exports and targets routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from service.api.deps import ServicesDep
from service.api.http.longest_span import bounded_period
from service.api.http.time_params import as_of_or_now, known_at_or_now
from service.application.analytics import WindowQuery
from service.application.consistent_reads import Consistency
from service.projections.analytics import Window

From = Annotated[str | None, Query(alias="from", description="Start (a date: its 00:00).")]
To = Annotated[str | None, Query(description="End, excluded (a date: its 00:00).")]
Period = Annotated[str | None, Query(alias="period", description="2026-Q1, 2026-03, 2026-W10")]
AsOf = Annotated[str | None, Query(description="Valid time: a date (its end) or a date-time.")]
KnownAt = Annotated[str | None, Query(description="Transaction time; default now.")]
MinPosition = Annotated[int | None, Query(ge=0, description="Wait until this is projected.")]
ConsistencyParam = Annotated[Consistency, Query(description="strong: wait for all acknowledged")]


async def window_query(
    services: ServicesDep,
    from_: From = None,
    to: To = None,
    period_: Period = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
    consistency: ConsistencyParam = "strong",
) -> WindowQuery:
    """The window of a request: `from`/`to` or `period`, `as_of` (default now), `known_at`."""
    settings = services.settings
    start, end = bounded_period(settings, from_, to, period_)
    window = Window(start, end, as_of_or_now(settings, as_of))
    return WindowQuery(window, known_at_or_now(settings, known_at), min_position, consistency)


WindowDep = Annotated[WindowQuery, Depends(window_query)]

"""The dashboard's numbers, read by the same use case code as `/v1/scoreboard` and `/v1/funnel`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.application.scoreboards import read_board_and_funnel
from service.application.services import Services
from service.events.instants import in_range
from service.web.view import View


@dataclass(frozen=True, slots=True)
class Board:
    """What one view shows: the scoreboard in its API shape, the funnel, and when it was read."""

    scoreboard: dict[str, Any]
    stages: dict[str, int]
    known_at: datetime
    position: int


async def read_board(services: Services, view: View) -> Board:
    """The view's scoreboard (with targets) and funnel from one snapshot of the read models."""
    zone = services.settings.zone
    as_of = view.as_of_instant(zone)
    known_at = as_of if view.known_then else datetime.now(UTC)
    read = await read_board_and_funnel(
        services,
        start=view.start(zone),
        end=view.end(zone),
        as_of=as_of,
        known_at=known_at,
        group_by=view.rows,
    )
    return Board(read.scoreboard.to_json(), read.stages, known_at, read.position)


async def newest_event_day(services: Services) -> datetime | None:
    """When the newest stored event happened (it picks the default period), if any."""
    head = await services.reader.head()
    rows = await services.reader.feed(head - 1, 1) if head else []
    # An instant out of range (stored by an earlier version) picks nothing: the default applies.
    return rows[0].occurred_at if rows and in_range(rows[0].occurred_at) else None

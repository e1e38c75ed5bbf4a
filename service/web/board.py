"""The dashboard's numbers, read by the same query code as `/v1/scoreboard` and `/v1/funnel`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.api.boards import scoreboard_with_targets
from service.api.container import Services
from service.api.reads import snapshot
from service.events.instants import in_range
from service.store import mirrored_reads
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
    async with snapshot(services, replica=True) as snap:
        board = await scoreboard_with_targets(
            snap.conn,
            start=view.start(zone),
            end=view.end(zone),
            known_at=known_at,
            group_by=view.rows,
            zone=zone,
            position=snap.position,
            complete=snap.complete,
            cache=services.boards,
            mirror=services.mirror,
        )
        stages = await mirrored_reads.funnel(
            snap.conn, services.mirror, snap.position, as_of=as_of, known_at=known_at, rep_id=None
        )
    return Board(board.to_json(), stages, known_at, snap.position)


async def newest_event_day(services: Services) -> datetime | None:
    """When the newest stored event happened (it picks the default period), if any."""
    head = await services.reader.head()
    rows = await services.reader.feed(head - 1, 1) if head else []
    # An instant out of range (stored by an earlier version) picks nothing: the default applies.
    return rows[0].occurred_at if rows and in_range(rows[0].occurred_at) else None

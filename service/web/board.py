"""The dashboard's numbers, read by the same use case code as `/v1/scoreboard` and `/v1/funnel`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from service.application.accounts import read_accounts
from service.application.consistent_reads import snapshot
from service.application.scoreboards import read_board_and_funnel
from service.application.services import Services
from service.projections.periods import start_of
from service.projections.profiles import without_idle_inactive
from service.store.queries.latest_fact import latest_fact_before
from service.web.view import View, days_of, shortcut_of


@dataclass(frozen=True, slots=True)
class Board:
    """What one view shows: the scoreboard in its API shape, the funnel, and when it was read."""

    scoreboard: dict[str, Any]
    stages: dict[str, int]
    known_at: datetime
    position: int
    imported_on: date | None = None
    """The day (company time) history of this period was imported, when the view is as known
    before it."""
    key_accounts: tuple[dict[str, Any], ...] = ()
    """The key accounts at the view's `as_of`, with the period's numbers (API shape)."""


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
    # A rep who has left and has nothing in the period is no row of the team's table.
    board = without_idle_inactive(read.scoreboard)
    imported = read.imported_at
    imported_on = None if imported is None else imported.astimezone(zone).date()
    accounts = await read_accounts(
        services,
        start=view.start(zone),
        end=view.end(zone),
        as_of=as_of,
        known_at=known_at,
        min_position=read.position,
        consistency="eventual",
    )
    keyed = tuple(summary.to_json() for summary in accounts.answer if summary.key_account)
    return Board(board.to_json(), read.stages, known_at, read.position, imported_on, keyed)


async def fallback_day(services: Services, today: date) -> date | None:
    """The day whose quarter the dashboard opens on when today's quarter has no fact that counts.

    None when today's quarter has one, or when nothing counts at all: then the dashboard opens
    on today's quarter. Otherwise the day of the latest counting fact, by when it happened (not
    the newest event in log order: a late backfill must not move the view to an old quarter).
    """
    zone = services.settings.zone
    first, after = days_of(shortcut_of("quarter", today), zone)
    async with snapshot(services, replica=True) as snap:
        latest = await latest_fact_before(snap.conn, start_of(after, zone))
    if latest is None:
        return None
    day = latest.astimezone(zone).date()
    return None if day >= first else day

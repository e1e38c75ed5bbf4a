"""Reading accounts at a snapshot: `/v1/accounts`, `/v1/accounts/{key}` and the dashboard's list.

The numbers are the scoreboard by account (read like every scoreboard); each deal's account
comes from the read models, the key-account marks and the contacts from the log, all in one
snapshot, and `service.projections.account_book` puts them together as the pure reference does.
"""

from __future__ import annotations

from datetime import datetime

from service.application.consistent_reads import Consistency, Read, Snapshot, snapshot
from service.application.scoreboards import scoreboard_with_targets
from service.application.services import Services
from service.projections.account_book import (
    AccountDetail,
    AccountSummary,
    account_detail,
    account_summaries,
)
from service.projections.accounts import DealAccount, contacts
from service.projections.deal import deal_states
from service.projections.knowledge import visible
from service.store.queries.accounts import (
    contact_events,
    deal_accounts_known_at,
    deal_events,
    key_history_known_at,
)


async def _summaries(
    services: Services,
    snap: Snapshot,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    known_at: datetime,
) -> tuple[list[AccountSummary], dict[str, DealAccount]]:
    conn = snap.conn
    board = await scoreboard_with_targets(
        conn,
        start=start,
        end=end,
        known_at=known_at,
        group_by="account",
        zone=services.settings.zone,
        position=snap.position,
        complete=snap.complete,
        cache=services.boards,
        mirror=services.mirror,
    )
    accounts = await deal_accounts_known_at(conn, as_of, known_at)
    marks = await key_history_known_at(conn, known_at, snap.position)
    logged = await contact_events(conn, list(accounts), known_at, snap.position)
    contacted = contacts(visible(logged, as_of=None, known_at=known_at), accounts, as_of)
    return account_summaries(board, accounts, marks, contacted, as_of), accounts


async def read_accounts(
    services: Services,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    known_at: datetime,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> Read[list[AccountSummary]]:
    """Every account at (`as_of`, `known_at`), key accounts first, with numbers of [start, end)."""
    async with snapshot(services, min_position, consistency, replica=True) as snap:
        summaries, _ = await _summaries(
            services, snap, start=start, end=end, as_of=as_of, known_at=known_at
        )
    return Read(summaries, snap.position)


async def read_account(
    services: Services,
    key: str,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    known_at: datetime,
    min_position: int | None = None,
    consistency: Consistency = "strong",
) -> Read[AccountDetail | None]:
    """The account `key` with its deals and latest contacts; None if it is unknown then."""
    async with snapshot(services, min_position, consistency, replica=True) as snap:
        summaries, accounts = await _summaries(
            services, snap, start=start, end=end, as_of=as_of, known_at=known_at
        )
        own = {deal: account for deal, account in accounts.items() if account.key == key}
        logged = await deal_events(snap.conn, sorted(own), known_at, snap.position)
    folded = visible(logged, as_of=as_of, known_at=known_at)
    states = deal_states(folded)
    contacted = contacts(folded, own, as_of)
    return Read(account_detail(key, summaries, states, own, contacted), snap.position)

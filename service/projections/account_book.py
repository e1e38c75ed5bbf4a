"""The accounts a manager looks after: key accounts first, their numbers, deals and contacts.

`account_summaries` and `account_detail` put together what the readers gathered (a scoreboard
by account, the deals' accounts at `as_of`, the key-account marks and the contacts); the same
functions serve the pure reference (`compute_accounts`, `compute_account`) and the service,
which reads those parts from the read models and the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from service.events.recorded import RecordedEvent
from service.projections.accounts import (
    Contact,
    DealAccount,
    KeyHistory,
    contacts,
    days_since,
    deal_accounts,
    key_history,
    key_mark_at,
)
from service.projections.deal import DealState, deal_states
from service.projections.knowledge import visible
from service.projections.scoreboard import (
    Scoreboard,
    ScoreNumbers,
    compute_scoreboard,
    zero_numbers,
)

LATEST_CONTACTS: Final = 10
"""How many of an account's latest contacts its detail lists."""


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One account: whether it is a key account at `as_of`, its numbers and its last contact."""

    key: str
    name: str
    key_account: bool
    note: str | None
    deals: int
    """Deals that belong to it at `as_of`."""
    numbers: ScoreNumbers
    """Its row of the scoreboard by account for the period (zeros without one)."""
    last_contact_at: datetime | None
    days_since_contact: int | None

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {
            "key": self.key,
            "name": self.name,
            "key_account": self.key_account,
            "note": self.note,
            "deals": self.deals,
            **self.numbers.to_json(),
            "last_contact_at": _iso(self.last_contact_at),
            "days_since_contact": self.days_since_contact,
        }


def _order(summary: AccountSummary) -> tuple[bool, str, str]:
    return (not summary.key_account, summary.name.casefold(), summary.key)


def account_summaries(
    board: Scoreboard,
    accounts: Mapping[str, DealAccount],
    marks: KeyHistory,
    contacted: Mapping[str, Sequence[Contact]],
    as_of: datetime,
) -> list[AccountSummary]:
    """Every account known then: with a deal at `as_of`, numbers in the period, or a key mark.

    Key accounts first, then by name. `board` is the period's scoreboard by account,
    `accounts` each deal's account at `as_of`, `contacted` each account's contacts (latest
    first) by `as_of`.
    """
    rows = {row.key: row for row in board.rows if row.key is not None}
    deals: dict[str, int] = {}
    names: dict[str, DealAccount] = {}
    for account in accounts.values():
        deals[account.key] = deals.get(account.key, 0) + 1
        seen = names.get(account.key)
        if seen is None or (account.sourced_at, account.position) > (
            seen.sourced_at,
            seen.position,
        ):
            names[account.key] = account
    keys = set(rows) | set(deals)
    keys |= {key for key in marks if (mark := key_mark_at(marks, key, as_of)) and mark.key}
    summaries = []
    for key in keys:
        mark = key_mark_at(marks, key, as_of)
        row = rows.get(key)
        named = names.get(key)
        name = named.name if named else (row.account_name if row and row.account_name else key)
        latest = contacted.get(key)
        last = latest[0].occurred_at if latest else None
        summaries.append(
            AccountSummary(
                key=key,
                name=name,
                key_account=bool(mark and mark.key),
                note=mark.note if mark else None,
                deals=deals.get(key, 0),
                numbers=row.numbers if row else zero_numbers(),
                last_contact_at=last,
                days_since_contact=days_since(last, as_of),
            )
        )
    summaries.sort(key=_order)
    return summaries


@dataclass(frozen=True, slots=True)
class AccountDetail:
    """One account: its summary, its deals at `as_of` and its latest contacts."""

    summary: AccountSummary
    deals: tuple[DealState, ...]
    contacts: tuple[Contact, ...]

    def to_json(self) -> dict[str, Any]:
        """The detail as a JSON-ready dict."""
        return {
            **self.summary.to_json(),
            "deal_list": [_deal_json(state) for state in self.deals],
            "contacts": [_contact_json(contact) for contact in self.contacts],
        }


def _deal_json(state: DealState) -> dict[str, Any]:
    return {
        "deal_id": state.deal_id,
        "stage": state.stage,
        "owner_rep_id": state.owner_rep_id,
        "amount": state.amount,
        "currency": state.currency,
        "stage_entered_at": _iso(state.stage_entered_at),
        "last_event_at": _iso(state.last_event_at),
    }


def _contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "occurred_at": contact.occurred_at.astimezone(UTC).isoformat(),
        "deal_id": contact.deal_id,
        "type": contact.type,
        "kind": contact.kind,
        "rep_id": contact.rep_id,
    }


def account_detail(
    key: str,
    summaries: Iterable[AccountSummary],
    states: Mapping[str, DealState],
    accounts: Mapping[str, DealAccount],
    contacted: Mapping[str, Sequence[Contact]],
) -> AccountDetail | None:
    """The account `key` among `summaries`, with its deals (`states` at `as_of`) and contacts."""
    summary = next((summary for summary in summaries if summary.key == key), None)
    if summary is None:
        return None
    own = sorted(deal_id for deal_id, account in accounts.items() if account.key == key)
    return AccountDetail(
        summary,
        tuple(states[deal_id] for deal_id in own if deal_id in states),
        tuple(contacted.get(key, ())[:LATEST_CONTACTS]),
    )


@dataclass(frozen=True, slots=True)
class AccountParts:
    """What the account answers are made of, folded from the raw events."""

    summaries: list[AccountSummary]
    accounts: dict[str, DealAccount]
    contacted: dict[str, list[Contact]]
    states: dict[str, DealState]


def _fold_parts(
    events: Iterable[RecordedEvent],
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    known_at: datetime | None,
) -> AccountParts:
    logged = list(events)
    board = compute_scoreboard(logged, start=start, end=end, known_at=known_at, group_by="account")
    known = visible(logged, as_of=None, known_at=known_at)
    accounts = deal_accounts(known, as_of)
    contacted = contacts(known, accounts, as_of)
    summaries = account_summaries(board, accounts, key_history(known), contacted, as_of)
    states = deal_states(event for event in known if event.occurred_at <= as_of)
    return AccountParts(summaries, accounts, contacted, states)


def compute_accounts(
    events: Iterable[RecordedEvent],
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    known_at: datetime | None,
) -> list[AccountSummary]:
    """Every account at (`as_of`, `known_at`) with its numbers of [start, end), from raw events."""
    parts = _fold_parts(events, start=start, end=end, as_of=as_of, known_at=known_at)
    return parts.summaries


def compute_account(
    events: Iterable[RecordedEvent],
    key: str,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    known_at: datetime | None,
) -> AccountDetail | None:
    """The account `key` at (`as_of`, `known_at`) from raw events; None if unknown then."""
    parts = _fold_parts(events, start=start, end=end, as_of=as_of, known_at=known_at)
    return account_detail(key, parts.summaries, parts.states, parts.accounts, parts.contacted)

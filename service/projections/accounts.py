"""Accounts: a deal's account key, account names, key-account marks and last contacts.

A deal's account is the `account` of its `lead.sourced` (the latest one in contract order, as
the deal fold keeps it); its key is `account.id` (the CRM's account id), else `account.name`.
An `account.key_set` event marks or unmarks a key account from its `time` on; of several at one
instant the last stored wins. Everything here takes visible events (see `visible`), so
`as_of` and `known_at` apply as to every other number.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from service.events.recorded import RecordedEvent
from service.events.vocabulary import (
    ACCOUNT_KEY_SET,
    ACCOUNT_SUBJECT_PREFIX,
    CALL_LOGGED,
    LEAD_SOURCED,
)
from service.projections.deal import is_deal
from service.projections.rules import RULES

_VISIT_TYPES: Final = RULES.split_kind.event_types
_SPLIT_FIELD: Final = RULES.split_field
CONTACT_TYPES: Final = (*_VISIT_TYPES, CALL_LOGGED)
"""The events that are contacts with an account: client visits and logged calls."""


def account_key(account: Mapping[str, Any] | None) -> str | None:
    """The account's key: its CRM id, else its name; None for a deal without an account."""
    if account is None:
        return None
    key = account.get("id") or account.get("name")
    return None if key is None else str(key)


@dataclass(frozen=True, slots=True)
class DealAccount:
    """The account a deal belongs to, and the `lead.sourced` that said so."""

    key: str
    name: str
    sourced_at: datetime
    position: int


def deal_accounts(ordered: Iterable[RecordedEvent], instant: datetime) -> dict[str, DealAccount]:
    """deal_id → its account at `instant`, from visible events in contract order."""
    found: dict[str, DealAccount] = {}
    for event in ordered:
        if event.type != LEAD_SOURCED or event.occurred_at > instant or not is_deal(event.subject):
            continue
        account = event.data["account"]
        key = account_key(account)
        if key is not None:
            found[event.subject] = DealAccount(
                key, str(account["name"]), event.occurred_at, event.position
            )
    return found


def account_names(accounts: Iterable[DealAccount]) -> dict[str, str]:
    """key → the name on its latest `lead.sourced` (by time, then stored order)."""
    latest: dict[str, DealAccount] = {}
    for account in accounts:
        seen = latest.get(account.key)
        if seen is None or (account.sourced_at, account.position) > (
            seen.sourced_at,
            seen.position,
        ):
            latest[account.key] = account
    return {key: account.name for key, account in latest.items()}


@dataclass(frozen=True, slots=True)
class KeyMark:
    """Whether an account is a key account, from `valid_from` on."""

    valid_from: datetime
    key: bool
    note: str | None


KeyHistory = dict[str, list[KeyMark]]
"""account key → its marks in contract order."""


def key_history(ordered: Iterable[RecordedEvent]) -> KeyHistory:
    """The key-account marks per account from visible events in contract order."""
    history: KeyHistory = {}
    for event in ordered:
        if event.type == ACCOUNT_KEY_SET and event.subject.startswith(ACCOUNT_SUBJECT_PREFIX):
            data = event.data
            mark = KeyMark(event.occurred_at, bool(data["key"]), data.get("note"))
            history.setdefault(str(data["account"]), []).append(mark)
    return history


def _valid_from(mark: KeyMark) -> datetime:
    return mark.valid_from


def key_mark_at(history: KeyHistory, key: str, instant: datetime) -> KeyMark | None:
    """The mark in force for the account at `instant`, else None (not a key account)."""
    marks = history.get(key)
    if not marks:
        return None
    index = bisect_right(marks, instant, key=_valid_from)
    return marks[index - 1] if index else None


@dataclass(frozen=True, slots=True)
class Contact:
    """A visit or a call with one of an account's deals."""

    occurred_at: datetime
    deal_id: str
    type: str
    kind: str
    rep_id: str
    position: int


def _contact_kind(event: RecordedEvent) -> str:
    data = event.data
    return str(data[_SPLIT_FIELD] if event.type in _VISIT_TYPES else data["direction"])


def contacts(
    ordered: Iterable[RecordedEvent], accounts: Mapping[str, DealAccount], as_of: datetime
) -> dict[str, list[Contact]]:
    """account key → its deals' visits and calls by `as_of`, latest first."""
    found: dict[str, list[Contact]] = {}
    for event in ordered:
        if event.type not in CONTACT_TYPES or event.occurred_at > as_of:
            continue
        account = accounts.get(event.subject)
        if account is None:
            continue
        contact = Contact(
            event.occurred_at,
            event.subject,
            event.type,
            _contact_kind(event),
            str(event.data["rep_id"]),
            event.position,
        )
        found.setdefault(account.key, []).append(contact)
    for listed in found.values():
        listed.sort(key=lambda contact: (contact.occurred_at, contact.position), reverse=True)
    return found


def days_since(last: datetime | None, as_of: datetime) -> int | None:
    """Whole days (of 24 hours) from `last` to `as_of`; None without a last contact."""
    return None if last is None else (as_of - last).days

"""A Salesforce export (Data Loader or Bulk API CSV files, one per object) to contract events.

`Opportunity.csv` and `OpportunityHistory.csv` are required; `OpportunityFieldHistory.csv`
(owner changes), `Task.csv` (calls) and `Event.csv` (meetings, visits) are read when present.
Event ids are the object and the record's Id (`OpportunityHistory/<Id>`), so a second import
of the same export, or of a newer one, stores only what is new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from service.importers import values
from service.importers.csvfiles import CsvRow, read_rows
from service.importers.history import Activity, Change, DealRecord, fold_deal, map_activities
from service.importers.rows import InvalidInput, Plan
from service.importers.rules import ImportRules

OPPORTUNITY = "Opportunity.csv"
HISTORY = "OpportunityHistory.csv"
FIELD_HISTORY = "OpportunityFieldHistory.csv"
TASK = "Task.csv"
EVENT = "Event.csv"
FILES = (OPPORTUNITY, HISTORY, FIELD_HISTORY, TASK, EVENT)

_OPPORTUNITY_PREFIX = "006"  # the key prefix of Opportunity ids
_USER_PREFIXES = ("005", "00G")  # users and queues: an owner change's id row, not its name row

T = TypeVar("T")


def _cell(row: CsvRow, column: str, read: Callable[[str], T]) -> T:
    try:
        return read(row.get(column))
    except ValueError as exc:
        raise InvalidInput(row.origin, f"{column}: {exc}") from None


def _optional(row: CsvRow, column: str, read: Callable[[str], T]) -> T | None:
    return _cell(row, column, read) if row.get(column) else None


def _required(row: CsvRow, *columns: str) -> None:
    for column in columns:
        if not row.get(column):
            raise InvalidInput(row.origin, f"{column} is empty")


def _unique(rows: Iterator[CsvRow]) -> Iterator[CsvRow]:
    seen: dict[str, str] = {}
    for row in rows:
        _required(row, "Id")
        record_id = row.get("Id")
        if record_id in seen:
            raise InvalidInput(row.origin, f"Id {record_id} appears twice (line {seen[record_id]})")
        seen[record_id] = row.origin.line
        yield row


def _opportunities(directory: Path, rules: ImportRules, plan: Plan) -> dict[str, DealRecord]:
    deals: dict[str, DealRecord] = {}
    required = ("Id", "OwnerId", "StageName", "CreatedDate")
    rows = _unique(read_rows(directory / OPPORTUNITY, required))
    for row in rows:
        plan.rows += 1
        _required(row, "OwnerId", "CreatedDate")
        _optional(row, "Amount", values.amount)
        _optional(row, "CloseDate", values.day)
        _cell(row, "IsClosed", values.boolean)
        _cell(row, "IsWon", values.boolean)
        record_id = row.get("Id")
        account = row.get("Account.Name") or row.get("Name") or f"Salesforce {record_id}"
        deals[record_id] = DealRecord(
            vendor_id=record_id,
            origin=row.origin,
            created_at=_cell(row, "CreatedDate", values.instant),
            created_id=f"Opportunity/{record_id}",
            owner=row.get("OwnerId"),
            account=account,
            lead_source=row.get("LeadSource") or None,
            currency=row.get("CurrencyIsoCode") or None,
            contract_id=f"salesforce-{record_id}",
            account_id=row.get("AccountId") or None,
        )
    return deals


def _deal(deals: dict[str, DealRecord], row: CsvRow, column: str, plan: Plan) -> DealRecord | None:
    deal = deals.get(row.get(column))
    if deal is None:
        plan.skip(row.origin, f"{column} {row.get(column)!r} is not in {OPPORTUNITY}")
    return deal


def _history(directory: Path, deals: dict[str, DealRecord], plan: Plan) -> None:
    required = ("Id", "OpportunityId", "StageName", "CreatedDate")
    changes: list[tuple[datetime, str, DealRecord, Change]] = []
    for row in _unique(read_rows(directory / HISTORY, required)):
        plan.rows += 1
        _required(row, "OpportunityId", "StageName", "CreatedDate")
        time = _cell(row, "CreatedDate", values.instant)
        amount = _optional(row, "Amount", values.amount)
        _optional(row, "CloseDate", values.day)
        deal = _deal(deals, row, "OpportunityId", plan)
        if deal is None:
            continue
        record_id = row.get("Id")
        change = Change(
            time=time,
            origin=row.origin,
            stage=row.get("StageName"),
            stage_id=f"OpportunityHistory/{record_id}",
            amount=amount,
            amount_id=f"OpportunityHistory/{record_id}/amount",
            by_user=row.get("CreatedById") or None,
        )
        changes.append((time, record_id, deal, change))
    for _, _, deal, change in sorted(changes, key=lambda item: item[:2]):
        deal.changes.append(change)


def _owner_changes(directory: Path, deals: dict[str, DealRecord], plan: Plan) -> None:
    path = directory / FIELD_HISTORY
    if not path.exists():
        return
    required = ("Id", "OpportunityId", "Field", "OldValue", "NewValue", "CreatedDate")
    owners: list[tuple[datetime, str, DealRecord, Change, str]] = []
    for row in _unique(read_rows(path, required)):
        plan.rows += 1
        _required(row, "OpportunityId", "CreatedDate")
        time = _cell(row, "CreatedDate", values.instant)
        if row.get("Field") not in {"Owner", "OwnerId"}:
            plan.ignore("field history of a field not read")
            continue
        new = row.get("NewValue")
        if not new.startswith(_USER_PREFIXES):
            plan.ignore("owner change by name (its twin row has the user ids)")
            continue
        deal = _deal(deals, row, "OpportunityId", plan)
        if deal is None:
            continue
        record_id = row.get("Id")
        change = Change(
            time=time,
            origin=row.origin,
            owner=new,
            owner_id=f"OpportunityFieldHistory/{record_id}",
            by_user=row.get("CreatedById") or None,
        )
        owners.append((time, record_id, deal, change, row.get("OldValue")))
    first: set[str] = set()
    for _, _, deal, change, old in sorted(owners, key=lambda item: item[:2]):
        if deal.vendor_id not in first and old.startswith(_USER_PREFIXES):
            deal.owner = old  # OwnerId is today's owner; the first change says who was first
        first.add(deal.vendor_id)
        deal.changes.append(change)


def _on_deal(row: CsvRow, deals: dict[str, DealRecord], plan: Plan) -> bool:
    what = row.get("WhatId")
    if not what.startswith(_OPPORTUNITY_PREFIX):
        plan.ignore("activity not on an opportunity")
        return False
    if what not in deals:
        plan.skip(row.origin, f"WhatId {what!r} is not in {OPPORTUNITY}")
        return False
    return True


def _direction(call_type: str) -> str | None:
    return {"outbound": "outbound", "inbound": "inbound"}.get(call_type.lower())


def _tasks(directory: Path, deals: dict[str, DealRecord], plan: Plan) -> Iterator[Activity]:
    path = directory / TASK
    if not path.exists():
        return
    for row in _unique(read_rows(path, ("Id", "WhatId", "OwnerId", "CreatedDate"))):
        plan.rows += 1
        _required(row, "CreatedDate")
        created = _cell(row, "CreatedDate", values.instant)
        on = _optional(row, "ActivityDate", values.day)
        duration = _cell(row, "CallDurationInSeconds", values.count)
        if row.get("Status") and row.get("Status") != "Completed":
            plan.ignore("task not completed")
            continue
        if not _on_deal(row, deals, plan):
            continue
        # The call's date; its time of day when the task was logged that same day.
        time = created if on is None or on == created.date() else values.midday(on)
        yield Activity(
            origin=row.origin,
            event_id=f"Task/{row.get('Id')}",
            deal=row.get("WhatId"),
            kind=row.get("TaskSubtype") or row.get("Type"),
            time=time,
            owner=row.get("OwnerId") or None,
            direction=_direction(row.get("CallType")),
            duration_s=duration,
            outcome=row.get("CallDisposition") or None,
        )


def _events(directory: Path, deals: dict[str, DealRecord], plan: Plan) -> Iterator[Activity]:
    path = directory / EVENT
    if not path.exists():
        return
    for row in _unique(read_rows(path, ("Id", "WhatId", "OwnerId", "StartDateTime"))):
        plan.rows += 1
        _required(row, "StartDateTime")
        start = _cell(row, "StartDateTime", values.instant)
        end = _optional(row, "EndDateTime", values.instant) or start
        if end < start:
            raise InvalidInput(row.origin, "EndDateTime is before StartDateTime")
        if not _on_deal(row, deals, plan):
            continue
        yield Activity(
            origin=row.origin,
            event_id=f"Event/{row.get('Id')}",
            deal=row.get("WhatId"),
            kind=row.get("Type"),
            time=start,
            owner=row.get("OwnerId") or None,
            duration_s=int((end - start).total_seconds()),
        )


def map_salesforce(directory: Path, rules: ImportRules, now: datetime) -> Plan:
    """Every event an export directory maps to; `InvalidInput` names the first broken row."""
    plan = Plan()
    deals = _opportunities(directory, rules, plan)
    _history(directory, deals, plan)
    _owner_changes(directory, deals, plan)
    activities = [*_tasks(directory, deals, plan), *_events(directory, deals, plan)]
    for deal in deals.values():
        fold_deal(deal, rules, plan)
    map_activities(activities, rules, plan, now)
    return plan

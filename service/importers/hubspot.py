"""HubSpot CRM v3 pages (JSON) to contract events.

Each file is one page as the API returns it, `{"results": [...], "paging": {...}}`:

- deals read with `propertiesWithHistory=dealstage,amount,hubspot_owner_id` and
  `associations=companies`: each property's history (`value`, `timestamp`) is a change;
- calls (`/crm/v3/objects/calls`, `hs_call_direction`, `hs_call_duration` in ms,
  `hs_timestamp`) and meetings (`/crm/v3/objects/meetings`, `hs_meeting_start_time`,
  `hs_meeting_outcome`) with their `deals` associations;
- companies (`name`), which only name the accounts of deals.

Where a problem is, is said as the file and a JSON pointer (`/results/3/properties/amount`).
Event ids: `deals/<id>/created`, `deals/<id>/<property>/<epoch ms>`, `calls/<id>`,
`meetings/<id>`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import orjson

from service.importers import values
from service.importers.history import Activity, Change, DealRecord, fold_deal, map_activities
from service.importers.rows import InvalidInput, Origin, Plan
from service.importers.rules import ImportRules
from service.webhooks.config import HubSpotMapping

T = TypeVar("T")
_DONE_MEETINGS = frozenset({"", "COMPLETED"})


def _read(origin: Origin, value: object, read: Callable[[Any], T], what: str) -> T:
    try:
        return read(value)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(origin, f"{what}: {exc}") from None


def _page(path: Path) -> list[dict[str, Any]]:
    origin = Origin(path.name, "/")
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(origin, f"cannot be read: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(origin, f"broken JSON: {exc}") from exc
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
        raise InvalidInput(origin, "not a HubSpot CRM page (no 'results' list of objects)")
    return results


def _kind(item: dict[str, Any]) -> str:
    properties = item.get("properties") or {}
    if "propertiesWithHistory" in item or "dealstage" in properties:
        return "deal"
    if any(key.startswith("hs_call_") for key in properties):
        return "call"
    if any(key.startswith("hs_meeting_") for key in properties):
        return "meeting"
    if "name" in properties or "domain" in properties:
        return "company"
    return "unknown"


def _associated(item: dict[str, Any], kind: str) -> list[str]:
    block = (item.get("associations") or {}).get(kind) or {}
    return [str(link.get("id")) for link in block.get("results") or [] if link.get("id")]


def _history(item: dict[str, Any], prop: str, origin: Origin) -> list[tuple[datetime, int, Any]]:
    entries = (item.get("propertiesWithHistory") or {}).get(prop) or []
    out = []
    for index, entry in enumerate(entries):
        where = Origin(origin.file, f"{origin.line}/propertiesWithHistory/{prop}/{index}")
        if not isinstance(entry, dict):
            raise InvalidInput(where, "a history entry must be an object")
        time = _read(where, entry.get("timestamp"), values.epoch_or_instant, "timestamp")
        millis = int(time.timestamp() * 1000)
        out.append((time, millis, entry))
    return out


def _deal(item: dict[str, Any], origin: Origin, names: dict[str, str]) -> DealRecord:
    deal_id = str(item.get("id") or "")
    if not deal_id:
        raise InvalidInput(origin, "a deal without 'id'")
    properties = item.get("properties") or {}
    created = properties.get("createdate") or item.get("createdAt")
    created_at = _read(origin, created, values.epoch_or_instant, "createdate")
    owners = _history(item, "hubspot_owner_id", origin)
    companies = _associated(item, "companies")
    account = next((names[c] for c in companies if c in names), None)
    record = DealRecord(
        vendor_id=deal_id,
        origin=origin,
        created_at=created_at,
        created_id=f"deals/{deal_id}/created",
        # The oldest owner in the history is the first; else today's.
        owner=str(min(owners, key=lambda o: o[0])[2].get("value") or "") or None
        if owners
        else (str(properties.get("hubspot_owner_id") or "") or None),
        account=account or str(properties.get("dealname") or f"HubSpot deal {deal_id}"),
        lead_source=None,
        currency=str(properties.get("deal_currency_code") or "") or None,
        contract_id=f"hubspot-{deal_id}",
        # The first associated company is the deal's account: its id is the account key.
        account_id=companies[0] if companies else None,
    )
    changes: dict[int, Change] = {}
    for time, millis, entry in _history(item, "dealstage", origin):
        change = changes.setdefault(millis, Change(time=time, origin=origin))
        change.stage, change.stage_id = (
            str(entry.get("value")),
            f"deals/{deal_id}/dealstage/{millis}",
        )
    for index, (time, millis, entry) in enumerate(_history(item, "amount", origin)):
        text = str(entry.get("value") or "")
        if not text:
            continue  # an amount cleared: nothing to revise to
        where = Origin(origin.file, f"{origin.line}/propertiesWithHistory/amount/{index}")
        amount: Decimal = _read(where, text, values.amount, "amount")
        change = changes.setdefault(millis, Change(time=time, origin=where))
        change.amount, change.amount_id = amount, f"deals/{deal_id}/amount/{millis}"
    for time, millis, entry in sorted(owners, key=lambda o: o[0])[1:]:
        owner = str(entry.get("value") or "")
        if owner:
            by = entry.get("updatedByUserId")
            record.changes.append(
                Change(
                    time=time,
                    origin=origin,
                    owner=owner,
                    owner_id=f"deals/{deal_id}/hubspot_owner_id/{millis}",
                    by_user=None if by is None else str(by),
                )
            )
    record.changes += [changes[millis] for millis in sorted(changes)]
    record.changes.sort(key=lambda change: change.time)
    return record


def _activity(item: dict[str, Any], kind: str, origin: Origin, plan: Plan) -> Activity | None:
    properties = item.get("properties") or {}
    record_id = str(item.get("id") or "")
    if not record_id:
        raise InvalidInput(origin, f"a {kind} without 'id'")
    deals = _associated(item, "deals")
    if not deals:
        plan.ignore("activity not on a deal")
        return None
    if kind == "call":
        when = properties.get("hs_timestamp") or properties.get("hs_createdate")
        time = _read(origin, when, values.epoch_or_instant, "hs_timestamp")
        millis = _read(
            origin, str(properties.get("hs_call_duration") or ""), values.count, "hs_call_duration"
        )
        direction = str(properties.get("hs_call_direction") or "").lower() or None
        # `hs_call_disposition` is an id of the portal's outcome list, not a text: left out.
        return Activity(
            origin,
            f"calls/{record_id}",
            deals[0],
            "call",
            time,
            _text(properties.get("hubspot_owner_id")),
            direction,
            millis // 1000,
        )
    when = properties.get("hs_meeting_start_time") or properties.get("hs_timestamp")
    time = _read(origin, when, values.epoch_or_instant, "hs_meeting_start_time")
    if str(properties.get("hs_meeting_outcome") or "").upper() not in _DONE_MEETINGS:
        plan.ignore("meeting not completed")
        return None
    return Activity(
        origin,
        f"meetings/{record_id}",
        deals[0],
        "meeting",
        time,
        _text(properties.get("hubspot_owner_id")),
    )


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def map_hubspot_pages(paths: list[Path], config: HubSpotMapping, now: datetime) -> Plan:
    """Every event the pages map to; `InvalidInput` names the first broken object."""
    rules = ImportRules.hubspot(config)
    plan = Plan()
    pages = [(path, _page(path)) for path in paths]
    names: dict[str, str] = {}
    for _, items in pages:
        for item in items:
            if _kind(item) == "company" and (item.get("properties") or {}).get("name"):
                names[str(item.get("id"))] = str(item["properties"]["name"])
    deals: dict[str, DealRecord] = {}
    activities: list[Activity] = []
    for path, items in pages:
        for index, item in enumerate(items):
            origin = Origin(path.name, f"/results/{index}")
            plan.rows += 1
            kind = _kind(item)
            if kind == "deal":
                record = _deal(item, origin, names)
                if record.vendor_id in deals:
                    raise InvalidInput(origin, f"deal {record.vendor_id} appears twice")
                deals[record.vendor_id] = record
            elif kind in {"call", "meeting"}:
                activity = _activity(item, kind, origin, plan)
                if activity is not None:
                    activities.append(activity)
            elif kind == "company":
                plan.ignore("company (names the accounts of deals)")
            else:
                plan.skip(origin, "not a deal, call, meeting or company")
    for record in deals.values():
        fold_deal(record, rules, plan)
    map_activities(activities, rules, plan, now)
    return plan

"""Builders of CloudEvents JSON for tests."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def ce(
    event_type: str,
    subject: str,
    time: str,
    data: dict[str, Any],
    *,
    id: str | None = None,  # noqa: A002 - the CloudEvents attribute is called id
    source: str = "crm",
    **extra: Any,
) -> dict[str, Any]:
    """A structured-mode CloudEvent as a JSON-ready dict."""
    return {
        "specversion": "1.0",
        "id": id or f"ev-{next(_ids)}",
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
        "data": data,
        **extra,
    }


def sourced(deal: str, rep: str, time: str, **kw: Any) -> dict[str, Any]:
    """A `lead.sourced` event."""
    data = {"rep_id": rep, "account": {"name": f"Account of {deal}"}, "channel": "web"}
    return ce("lead.sourced", deal, time, data, **kw)


def qualified(deal: str, rep: str, time: str, amount: str = "1000.00", **kw: Any) -> dict[str, Any]:
    """A `deal.qualified` event."""
    return ce(
        "deal.qualified", deal, time, {"rep_id": rep, "amount": amount, "currency": "TWD"}, **kw
    )


def signed(deal: str, rep: str, time: str, amount: str = "1000.00", **kw: Any) -> dict[str, Any]:
    """A `deal.contract_signed` event."""
    data = {"rep_id": rep, "amount": amount, "currency": "TWD", "contract_id": f"C-{deal}"}
    return ce("deal.contract_signed", deal, time, data, **kw)


def visit(deal: str, rep: str, time: str, kind: str = "FSI", **kw: Any) -> dict[str, Any]:
    """A `visit.completed` event."""
    return ce("visit.completed", deal, time, {"rep_id": rep, "kind": kind}, **kw)


def retraction(deal: str, rep: str, time: str, target: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """An `event.retracted` naming `target`."""
    data = {
        "rep_id": rep,
        "event_source": target["source"],
        "event_id": target["id"],
        "reason": "entered by mistake",
    }
    return ce("event.retracted", deal, time, data, **kw)

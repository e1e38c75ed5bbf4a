"""Aircall `call.ended` webhooks to `call.logged` events.

Aircall knows calls, not deals: a call belongs to the deal named by one of its tags
(`deal:<deal id>` by default) or, failing that, by its external number in `numbers`.
Dedupe key: `call-<data.id>` (a call ends once). The body's `token` is never stored.
"""

from __future__ import annotations

from typing import Any

from service.webhooks.config import AircallConfig, Rule
from service.webhooks.outcomes import Mapped, Outcome, Unmapped, content_key
from service.webhooks.rules import cloud_event, event_data, from_seconds

_CALL_LOGGED = Rule(type="call.logged")
_DIALLED = frozenset("+0123456789")  # a number as dialled: ASCII digits and the plus sign


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _digits(number: object) -> str:
    return "".join(c for c in str(number) if c in _DIALLED)


def without_token(body: Any) -> Any:
    """The body as it may be kept: without the shared token."""
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k != "token"}
    return body


def _deal(call: dict[str, Any], config: AircallConfig) -> str | None:
    for tag in call.get("tags") or []:
        name = str(_dict(tag).get("name", ""))
        if config.deal_tag_prefix and name.startswith(config.deal_tag_prefix):
            return name.removeprefix(config.deal_tag_prefix).strip() or None
    numbers = {_digits(number): deal for number, deal in config.numbers.items()}
    return numbers.get(_digits(call.get("raw_digits", "")))


def _facts(call: dict[str, Any]) -> dict[str, Any]:
    duration = call.get("duration")
    missed = call.get("missed_call_reason") or "missed"
    return {
        "direction": call.get("direction"),
        "duration_s": duration if isinstance(duration, int) else 0,
        "outcome": "answered" if call.get("answered_at") else str(missed),
    }


def map_aircall(body: Any, config: AircallConfig) -> list[Outcome]:
    """One Aircall delivery (already authenticated by its token) as an event or inbox item."""
    kept = without_token(body)
    call = _dict(_dict(body).get("data"))
    kind = _dict(body).get("event")
    key = f"call-{call['id']}" if call.get("id") is not None else content_key(kept)
    if kind != "call.ended":
        return [Unmapped(f"{key}:{kind}", f"Aircall event {kind!r} is not mapped", kept)]
    rep = config.rep(_dict(call.get("user")).get("id"))
    subject = _deal(call, config)
    time = from_seconds(call.get("ended_at")) or from_seconds(_dict(body).get("timestamp"))
    if rep is None:
        user = _dict(call.get("user")).get("id")
        return [Unmapped(key, f"Aircall user {user} is not mapped to a rep", kept)]
    if subject is None or time is None:
        return [Unmapped(key, "no deal for this call (no deal tag, number not mapped)", kept)]
    data = event_data(_CALL_LOGGED, rep, _facts(call))
    event = cloud_event(
        source=config.source, event_id=key, rule=_CALL_LOGGED, subject=subject, time=time, data=data
    )
    return [Mapped(key, event, kept)]

"""Where two scoreboards of one period disagree, row by row and in the totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from service.projections.scoreboard import Scoreboard, ScoreNumbers

Scope = Literal["row", "totals"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One row (or the totals) that differs: both sides, and the names of the fields that do."""

    scope: Scope
    key: str | None
    replay: ScoreNumbers | None
    projection: ScoreNumbers | None
    fields: tuple[str, ...]


def _flat(numbers: ScoreNumbers | None) -> dict[str, int | Decimal]:
    if numbers is None:
        return {}
    flat: dict[str, int | Decimal] = {
        "closed_deals": numbers.closed_deals,
        "committed_deals": numbers.committed_deals,
        "opportunities": numbers.opportunities,
        "leads": numbers.leads,
        "client_visits": numbers.client_visits,
        "fsi_visits": numbers.fsi_visits,
        "fua_visits": numbers.fua_visits,
        "calls": numbers.calls,
        "connected_calls": numbers.connected_calls,
        "talk_time_s": numbers.talk_time_s,
        "open.leads": numbers.open.leads,
        "open.opportunities": numbers.open.opportunities,
        "open.committed_deals": numbers.open.committed_deals,
    }
    for currency, value in numbers.closed_value.items():
        flat[f"closed_value.{currency}"] = value
    return flat


def differing_fields(a: ScoreNumbers | None, b: ScoreNumbers | None) -> tuple[str, ...]:
    """The fields in which two sets of numbers differ (a missing side counts as all zero)."""
    left, right = _flat(a), _flat(b)
    return tuple(
        name
        for name in sorted(left.keys() | right.keys())
        if left.get(name, 0) != right.get(name, 0)
    )


def _key_order(key: str | None) -> tuple[bool, str]:
    return (key is None, key or "")


def differences(replayed: Scoreboard, projected: Scoreboard) -> tuple[Difference, ...]:
    """Every row whose numbers differ between the two boards, then the totals if they differ."""
    ours = {row.key: row.numbers for row in replayed.rows}
    theirs = {row.key: row.numbers for row in projected.rows}
    found: list[Difference] = []
    for key in sorted(ours.keys() | theirs.keys(), key=_key_order):
        fields = differing_fields(ours.get(key), theirs.get(key))
        if fields:
            found.append(Difference("row", key, ours.get(key), theirs.get(key), fields))
    fields = differing_fields(replayed.totals, projected.totals)
    if fields:
        found.append(Difference("totals", None, replayed.totals, projected.totals, fields))
    return tuple(found)

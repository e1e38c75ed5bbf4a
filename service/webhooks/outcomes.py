"""What mapping one vendor item yields: a contract event to store, or an item for the inbox."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Mapped:
    """A raw contract CloudEvent made from a vendor item (validated later, like any event)."""

    key: str
    event: dict[str, Any]
    payload: Any


@dataclass(frozen=True, slots=True)
class Unmapped:
    """An authenticated vendor item that maps to no contract event: kept, never counted."""

    key: str
    reason: str
    payload: Any


Outcome = Mapped | Unmapped

UNREADABLE = "the body is not JSON, or repeats a key in an object"
"""The reason kept with a body that could not be read: no mapping can read it either."""


def content_key(payload: Any) -> str:
    """An inbox key for a payload that carries no id of its own: a digest of its content."""
    digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"sha256:{digest}"

"""Meeting pages already computed, kept by their parameters and the log position they read.

A weekly meeting or a one-on-one folds many deals from the log; the same page asked again at
the same snapshot position has the same answer, so it is kept (bounded, least recently used
first out) under its parameters and that position, as the scoreboards are (`board_cache`). A
`known_at` from the newest reflected event's `recorded_at` on sees every reflected event, so all
such "now" requests share one key; an earlier `known_at` is kept under its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime
from typing import Any

PageKey = tuple[Hashable, ...]


def page_key(
    *parts: Hashable, known_at: datetime, position: int, newest_recorded_at: datetime | None
) -> PageKey:
    """The key of a page of `parts` read at `position` as known at `known_at`."""
    sees_all = newest_recorded_at is None or known_at >= newest_recorded_at
    return (*parts, None if sees_all else known_at, position)


class MeetingCache:
    """A bounded least-recently-used map of computed meeting pages (and their parts)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._pages: OrderedDict[PageKey, Any] = OrderedDict()

    def get(self, key: PageKey) -> Any:
        """A kept value (None when there is none), refreshed as recently used."""
        value = self._pages.get(key)
        if value is not None:
            self._pages.move_to_end(key)
        return value

    def put(self, key: PageKey, value: Any) -> None:
        """Keep a value, forgetting the least recently used beyond the size."""
        self._pages[key] = value
        self._pages.move_to_end(key)
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)

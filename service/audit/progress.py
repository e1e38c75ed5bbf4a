"""Progress of a long audit walk: how a caller (the command line's bar) is told of it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

Advance = Callable[[int], None]
"""Told how far a walk has come (a log position, or a count of events)."""

ProgressBar = Callable[[int], AbstractContextManager[Advance | None]]
"""Given how far a walk will go, a context that yields the callback told how far it has come
(None: nobody is watching)."""


def no_progress(_total: int) -> AbstractContextManager[None]:
    """A walk nobody watches."""
    return contextlib.nullcontext()

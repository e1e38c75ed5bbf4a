"""Fewer cyclic garbage collections while a bulk fold allocates millions of short-lived objects.

A rebuild's fold allocates several objects per event, nearly all freed by reference counting;
at the default threshold the cyclic collector still runs every 700 allocations and walks the
young objects each time, about a quarter of the fold's CPU. While at least one bulk fold runs,
the first-generation threshold is raised; the previous thresholds come back when the last ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLD = 100_000
"""Allocations between young-generation collections during a bulk fold (CPython default 700)."""

_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young-generation collection threshold for the duration of the block."""
    global _active, _saved  # noqa: PLW0603 - the collector's settings are process-wide too
    if _active == 0:
        _saved = gc.get_threshold()
        gc.set_threshold(max(BULK_THRESHOLD, _saved[0]), _saved[1], _saved[2])
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        if _active == 0:
            gc.set_threshold(*_saved)


@contextmanager
def paused_collections() -> Iterator[None]:
    """No cyclic collection for the duration of the block; the collector's state comes back.

    For a step that only builds what it keeps (an import reading, mapping and validating every
    row before storing any): each collection walks all that was kept so far, in vain, and cost
    a fifth to a quarter of the step's CPU. Garbage made meanwhile is still freed by reference
    counting. What the block made and still holds when it ends is frozen (`gc.freeze`): never
    walked by the collector again, still freed by reference counting; a cycle made inside the
    block is not collected. For a command that runs one import and exits (`funnel-ledger
    import`), not for a long-running server.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # What the block kept is moved out of the collector's generations: re-enabled with
        # them young, the next collection would walk them all once more.
        gc.freeze()
        if was_enabled:
            gc.enable()

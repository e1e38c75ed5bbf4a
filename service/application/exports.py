"""How many exports run at once in this process: a gate that refuses those beyond its limit.

An export streams for as long as its client reads, holding a worker's attention; past
`FUNNEL_MAX_CONCURRENT_EXPORTS` running at once, a new one is refused before any database work.
"""

from __future__ import annotations

from service.application.errors import TooManyExports

EXPORT_RETRY_AFTER_SECONDS = 5


class ExportSlot:
    """One running export's place in its gate; released once, however the export ends."""

    def __init__(self, gate: ExportGate) -> None:
        self._gate: ExportGate | None = gate

    def release(self) -> None:
        """Give the place back (again: nothing)."""
        if self._gate is not None:
            self._gate.running -= 1
            self._gate = None


class ExportGate:
    """Counts the exports running in this process and refuses those beyond `limit`."""

    def __init__(self, limit: int = 4) -> None:
        self.limit = limit
        self.running = 0

    def enter(self) -> ExportSlot:
        """A slot for one more export; `TooManyExports` when `limit` are running."""
        if self.running >= self.limit:
            raise TooManyExports(self.limit, EXPORT_RETRY_AFTER_SECONDS)
        self.running += 1
        return ExportSlot(self)

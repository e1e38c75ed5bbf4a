"""The deal histories the projector keeps between rounds, so that a round folds only new events.

A kept `DealHistory` depends on the log alone (never on the read-model tables), and the log is
append-only: a history that took in a deal's stream up to position P stays right until the
deal's next events, which only a projection round past P can bring. The cache is therefore
usable by a round exactly when it starts where the last committed round ended (`through`);
otherwise (another process projected meanwhile, a rebuild moved the checkpoint, a round failed
and rolled back) it is emptied and refilled from the log.
"""

from __future__ import annotations

from collections import OrderedDict

from service.projections.bitemporal import DealHistory


class HistoryCache:
    """Resumable histories (without their streams) of at most `max_deals` deals touched last."""

    def __init__(self, max_deals: int) -> None:
        self._max_deals = max_deals
        self._deals: OrderedDict[str, DealHistory] = OrderedDict()
        self._through: int | None = None

    def __len__(self) -> int:
        """How many deals' histories are kept."""
        return len(self._deals)

    def begin(self, after: int) -> None:
        """A round starts after position `after`: drop everything unless the cache is there."""
        if self._through != after:
            self.clear()
        self._through = None  # until the round commits

    def committed(self, position: int) -> None:
        """The round that began has committed the read models up to `position`."""
        self._through = position

    def take(self, deal: str) -> DealHistory | None:
        """The kept history of `deal`, if any; `keep` it again once extended."""
        return self._deals.get(deal)

    def keep(self, deal: str, history: DealHistory) -> None:
        """Keep `history` as the most recently used; forget the least recent beyond the bound."""
        history.drop_stream()
        self._deals[deal] = history
        self._deals.move_to_end(deal)
        while len(self._deals) > self._max_deals:
            self._deals.popitem(last=False)

    def clear(self) -> None:
        """Forget every history."""
        self._deals.clear()
        self._through = None

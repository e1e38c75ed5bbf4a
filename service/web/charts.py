"""Geometry of the dashboard's inline SVG charts, computed on the server (no chart library)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from service.projections.rules import RULES

FUNNEL_STAGES: Final = RULES.funnel_stages
CLOSED_STAGES: Final = RULES.exit_stages
_LOOKS: Final = {stage.name: (stage.label, stage.colour) for stage in RULES.stages}
"""Stage → its English label (when a catalogue has none) and its bar colour."""
WIDTH: Final = 560
BAR_HEIGHT: Final = 34
GAP: Final = 8
_MIN_WIDTH: Final = 4


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar of a chart, centred for the funnel."""

    stage: str
    count: int
    x: float
    y: float
    width: float
    height: float = BAR_HEIGHT

    @property
    def label(self) -> str:
        """The stage's label when the page's language has no word for it."""
        return _LOOKS[self.stage][0]

    @property
    def colour(self) -> str:
        """The bar's fill."""
        return _LOOKS[self.stage][1]

    @property
    def text_y(self) -> float:
        """Where the bar's label sits (vertical centre)."""
        return self.y + self.height / 2 + 5


def funnel_bars(stages: Mapping[str, int]) -> tuple[list[Bar], list[Bar], int]:
    """The open-to-won funnel (centred bars), the lost/disqualified bars, and the SVG height."""
    peak = max([stages.get(stage, 0) for stage in (*FUNNEL_STAGES, *CLOSED_STAGES)] + [1])
    funnel = [
        _bar(stage, stages.get(stage, 0), peak, i, centred=True)
        for i, stage in enumerate(FUNNEL_STAGES)
    ]
    offset = len(FUNNEL_STAGES) + 0.5
    closed = [
        _bar(stage, stages.get(stage, 0), peak, offset + i, centred=False)
        for i, stage in enumerate(CLOSED_STAGES)
    ]
    height = int((offset + len(CLOSED_STAGES)) * (BAR_HEIGHT + GAP))
    return funnel, closed, height


def _bar(stage: str, count: int, peak: int, row: float, *, centred: bool) -> Bar:
    width = max(WIDTH * count / peak, _MIN_WIDTH if count else 0)
    x = (WIDTH - width) / 2 if centred else 0
    return Bar(stage, count, round(x, 1), round(row * (BAR_HEIGHT + GAP), 1), round(width, 1))


@dataclass(frozen=True, slots=True)
class Share:
    """The FSI/FUA split of client visits as two stacked segments."""

    fsi: int
    fua: int

    @property
    def total(self) -> int:
        """All client visits."""
        return self.fsi + self.fua

    @property
    def fsi_percent(self) -> int:
        """FSI visits as a whole percentage of all visits (0 without visits)."""
        return round(100 * self.fsi / self.total) if self.total else 0

    @property
    def fua_percent(self) -> int:
        """FUA visits as a whole percentage of all visits (0 without visits)."""
        return 100 - self.fsi_percent if self.total else 0

    @property
    def fsi_width(self) -> float:
        """The FSI segment's width on a `WIDTH`-wide bar."""
        return round(WIDTH * self.fsi / self.total, 1) if self.total else 0.0


TREND_WIDTH: Final = 168
TREND_HEIGHT: Final = 36
_TREND_GAP: Final = 2


@dataclass(frozen=True, slots=True)
class TrendBar:
    """One week's bar of a small trend chart (bottom-aligned); the last is the current week."""

    value: int
    x: float
    y: float
    width: float
    height: float
    current: bool


def trend_bars(values: Sequence[int]) -> list[TrendBar]:
    """Bars for a series of weekly values on a `TREND_WIDTH` by `TREND_HEIGHT` chart."""
    if not values:
        return []
    peak = max([*values, 1])
    slot = TREND_WIDTH / len(values)
    bars = []
    for index, value in enumerate(values):
        height = max(TREND_HEIGHT * value / peak, 1.0 if value else 0.0)
        bars.append(
            TrendBar(
                value=value,
                x=round(index * slot + _TREND_GAP / 2, 1),
                y=round(TREND_HEIGHT - height, 1),
                width=round(max(slot - _TREND_GAP, 1.0), 1),
                height=round(height, 1),
                current=index == len(values) - 1,
            )
        )
    return bars

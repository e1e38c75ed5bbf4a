"""The scale benchmark's curves as one SVG: a small panel per figure, x = millions of events.

Plain SVG text, no plotting library: each panel draws its series as lines through the measured
sizes, with the goal (where there is one) as a dashed red line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

Size = dict[str, Any]
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
WIDTH, HEIGHT = 300, 210
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 58


@dataclass(frozen=True, slots=True)
class Panel:
    """One figure: its title, unit, series (label and how to read it) and goal."""

    title: str
    unit: str
    series: tuple[tuple[str, Callable[[Size], float | None]], ...]
    goal: float | None = None


def _reads(name: str, key: str = "p95_ms") -> Callable[[Size], float | None]:
    return lambda size: size["service"]["reads"][name][key]


PANELS = (
    Panel(
        "Full rebuild",
        "s",
        (("rebuild", lambda s: s["projection"]["rebuild_s"]),),
        goal=200,
    ),
    Panel(
        "Service memory (RSS)",
        "MB",
        (
            ("at start", lambda s: s["service"]["rss_start_mb"]),
            ("warm", lambda s: s["service"]["rss_warm_mb"]),
            ("after reads", lambda s: s["service"]["rss_after_reads_mb"]),
            ("replay peak", lambda s: s["service"]["audit_replay"]["rss_peak_mb"]),
        ),
        goal=1024,
    ),
    Panel(
        "Cold scoreboard and funnel, p95",
        "ms",
        (
            ("by rep", _reads("scoreboard_by_rep_cold")),
            ("by team", _reads("scoreboard_by_team_cold")),
            ("funnel", _reads("funnel_past_as_of_cold")),
        ),
        goal=50,
    ),
    Panel(
        "One deal at a past as_of, p95",
        "ms",
        (
            ("now", _reads("deal_past_as_of_cold")),
            ("past known_at", _reads("deal_past_as_of_past_known_at_cold")),
        ),
        goal=5,
    ),
    Panel(
        "Start-up",
        "s",
        (
            ("answering", lambda s: s["service"]["healthy_s"]),
            ("warm (in-memory copy)", lambda s: s["service"]["warm_s"]),
        ),
    ),
    Panel(
        "Audit replay of one quarter",
        "s",
        (("replay", lambda s: s["service"]["audit_replay"]["seconds"]),),
        goal=30,
    ),
    Panel(
        "Disk per million events",
        "MB",
        (
            ("events", lambda s: s["disk"]["events_mb_per_m"]),
            ("read models", lambda s: s["disk"]["read_models_mb_per_m"]),
        ),
    ),
    Panel(
        "Projector catch-up",
        "events/s",
        (("catch-up", lambda s: s["projection"]["catch_up_events_per_s"]),),
    ),
)


def _value(read: Callable[[Size], float | None], size: Size) -> float | None:
    try:
        value = read(size)
    except (KeyError, TypeError):
        return None
    return None if value is None else float(value)


def _label(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.0f}k" if value >= 10_000 else f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _panel(panel: Panel, sizes: Sequence[Size], x0: int, y0: int) -> list[str]:
    xs = [size["events"] / 1e6 for size in sizes]
    columns = [[_value(read, size) for size in sizes] for _, read in panel.series]
    values = [v for column in columns for v in column if v is not None]
    top = max([*values, panel.goal or 0, 1e-9]) * 1.15
    right = max(xs) * 1.08 if xs else 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return x0 + LEFT + inner_w * x / right, y0 + TOP + inner_h * (1 - y / top)

    out = [
        f'<text x="{x0 + LEFT}" y="{y0 + 16}" font-weight="bold">{escape(panel.title)}'
        f" ({escape(panel.unit)})</text>",
        f'<rect x="{x0 + LEFT}" y="{y0 + TOP}" width="{inner_w}" height="{inner_h}" '
        'fill="none" stroke="#999"/>',
    ]
    for tick in (0, top / 2 / 1.15, top / 1.15):
        _, y = at(0, tick)
        out.append(
            f'<text x="{x0 + LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_label(tick)}</text>'
        )
    for x in xs:
        px, py = at(x, 0)
        out.append(f'<text x="{px:.1f}" y="{py + 14:.1f}" text-anchor="middle">{x:.2g}</text>')
    px, py = at(right / 2, 0)
    out.append(f'<text x="{px:.1f}" y="{py + 27:.1f}" text-anchor="middle">million events</text>')
    if panel.goal is not None:
        _, gy = at(0, panel.goal)
        gx = x0 + LEFT + inner_w
        out.append(
            f'<line x1="{x0 + LEFT}" y1="{gy:.1f}" x2="{gx}" y2="{gy:.1f}" stroke="#d62728" '
            'stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<text x="{gx - 2}" y="{gy - 3:.1f}" text-anchor="end" fill="#d62728">'
            f"goal {_label(panel.goal)}</text>"
        )
    legend_y = y0 + HEIGHT - 14
    for index, ((label, _), column) in enumerate(zip(panel.series, columns, strict=True)):
        colour = COLOURS[index % len(COLOURS)]
        points = [at(x, v) for x, v in zip(xs, column, strict=True) if v is not None]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
            out += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in points
            ]
        lx = x0 + 8 + index * (WIDTH // max(2, len(panel.series)))
        out.append(f'<text x="{lx}" y="{legend_y}" fill="{colour}">{escape(label)}</text>')
    return out


def svg(sizes: Sequence[Size], columns: int = 4) -> str:
    """The SVG document of every panel for the measured `sizes` (in the order measured)."""
    rows = -(-len(PANELS) // columns)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH * columns}" '
        f'height="{HEIGHT * rows}" font-family="sans-serif" font-size="10">',
        f'<rect width="{WIDTH * columns}" height="{HEIGHT * rows}" fill="white"/>',
    ]
    for index, panel in enumerate(PANELS):
        parts += _panel(panel, sizes, (index % columns) * WIDTH, (index // columns) * HEIGHT)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

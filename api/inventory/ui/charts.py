"""Server-side SVG charts: geometry is computed here, the templates (_charts.html) only draw it.

Charts carry a title and a description for assistive technology (role="img", <title>, <desc>) and every
number is also written as text, so nothing depends on colour alone or on JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SEVERITY_CLASSES = {"CRITICAL": "sev-critical", "HIGH": "sev-high", "MEDIUM": "sev-medium", "LOW": "sev-low"}


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: float
    width: float
    css: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per category."""

    title: str
    description: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int
    max_value: int


def bar_chart(
    title: str,
    values: dict[str, int],
    classes: dict[str, str] | None = None,
    width: int = 420,
    label_width: int = 90,
    bar_height: int = 22,
    gap: int = 8,
) -> BarChart:
    classes = classes or {}
    top = max(values.values(), default=0)
    room = width - label_width - 50  # right margin holds the number
    bars = [
        Bar(
            label=label,
            value=value,
            y=i * (bar_height + gap),
            width=round(room * value / top, 1) if top else 0.0,
            css=classes.get(label, "bar"),
        )
        for i, (label, value) in enumerate(values.items())
    ]
    height = max(len(bars) * (bar_height + gap) - gap, bar_height)
    summary = ", ".join(f"{label}: {value}" for label, value in values.items()) or "no data"
    return BarChart(title, f"{title}. {summary}.", bars, width, height, label_width, bar_height, top)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    at: datetime
    value: int


@dataclass(frozen=True)
class Series:
    name: str
    css: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points))


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class LineChart:
    title: str
    description: str
    series: list[Series]
    width: int
    height: int
    left: int
    bottom: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def line_chart(
    title: str,
    data: dict[str, list[tuple[datetime, int]]],
    classes: dict[str, str] | None = None,
    width: int = 640,
    height: int = 220,
    left: int = 40,
    bottom: int = 24,
) -> LineChart | None:
    """One line per series over time; None when there are fewer than two points in time to draw."""
    classes = classes or {}
    times = sorted({t for points in data.values() for t, _ in points})
    if len(times) < 2:
        return None
    t0, t1 = times[0].timestamp(), times[-1].timestamp()
    top = max((v for points in data.values() for _, v in points), default=0) or 1
    plot_w, plot_h = width - left - 10, height - bottom - 10

    def x(t: datetime) -> float:
        return left + plot_w * (t.timestamp() - t0) / (t1 - t0)

    def y(v: int) -> float:
        return 10 + plot_h * (1 - v / top)

    series = [
        Series(name, classes.get(name, "line"), [Point(x(t), y(v), t, v) for t, v in sorted(points)])
        for name, points in data.items()
        if points
    ]
    fmt = "%H:%M" if t1 - t0 < 86400 else "%m-%d %H:%M"
    x_ticks = [Tick(x(t), t.strftime(fmt)) for t in (times[0], times[len(times) // 2], times[-1])]
    y_ticks = [Tick(y(v), str(v)) for v in sorted({0, top // 2, top})]
    last = "; ".join(f"{s.name} {s.points[0].value} to {s.points[-1].value}" for s in series)
    start, end = times[0].strftime("%Y-%m-%d %H:%M"), times[-1].strftime("%Y-%m-%d %H:%M")
    description = f"{title} from {start} to {end} UTC: {last}."
    return LineChart(title, description, series, width, height, left, bottom, x_ticks, y_ticks)

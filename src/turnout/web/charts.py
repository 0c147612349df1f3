"""Charts drawn on the server as inline SVG: time-series lines, bars, and uptime strips.

No chart library and no script: each chart is a self-contained `<svg>` sized by its viewBox,
so it scales to any width (phones included), works offline, and every point carries a
`<title>` that browsers show on hover. Callers pass plain numbers; formatting of labels is
theirs (a `fmt` callable), so this module knows nothing about tokens or money.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from turnout.web.layout import esc

H = 220  # every chart is this tall in viewBox units; widths vary with the space a chart gets
RIGHT, TOP, BOTTOM = 12, 12, 28
CHAR = 8.5  # width of a label character in viewBox units, at the largest (phone) font size
# Series colours; turnout.css repeats them as classes c0..c6 (a CSP without inline styles).
PALETTE = ("#6366f1", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#64748b")

Fmt = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Point:
    t: float  # epoch seconds
    value: float
    note: str = ""  # extra hover text, e.g. "12 requests"


def nice_step(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 0.25
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


@dataclass(frozen=True, slots=True)
class Axes:
    """The plot area: width, left margin (fits the y labels) and the y scale (4 round steps)."""

    w: int
    y_max: float
    labels: tuple[str, ...]  # y labels from the top down

    @classmethod
    def fit(cls, w: int, top_value: float, axis: Fmt) -> Axes:
        y_max = 4 * nice_step(top_value / 4)
        if top_value <= 0:  # nothing to scale: a bare grid, no made-up figures
            return cls(w, y_max, ("",) * 5)
        return cls(w, y_max, tuple(axis(y_max * (4 - i) / 4) for i in range(5)))

    @property
    def left(self) -> float:
        return max(len(label) for label in self.labels) * CHAR + 10

    def x(self, fraction: float) -> float:
        return self.left + (self.w - self.left - RIGHT) * fraction

    def y(self, value: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - value / self.y_max)

    def frame(self, ticks: Sequence[tuple[float, str]]) -> list[str]:
        """Grid lines and y labels; x labels at the given (x position, text) ticks."""
        parts = []
        for i, label in enumerate(self.labels):
            y = TOP + (H - TOP - BOTTOM) * i / 4
            parts.append(f'<line class="grid" x1="{self.left:.1f}" x2="{self.w - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
            parts.append(f'<text class="ylab" x="{self.left - 6:.1f}" y="{y + 4:.1f}">{esc(label)}</text>')
        for i, (x, text) in enumerate(ticks):
            anchor = "start" if i == 0 and x < self.left + 30 else "end" if x > self.w - RIGHT - 30 else "middle"
            parts.append(f'<text class="xlab" x="{x:.1f}" y="{H - 8}" text-anchor="{anchor}">{esc(text)}</text>')
        return parts

    def svg(self, label: str, parts: list[str], empty: bool) -> str:
        if empty:
            parts.append(f'<text class="empty" x="{self.w / 2}" y="{H / 2}" text-anchor="middle">No traffic yet</text>')
        return f'<svg class="chart" viewBox="0 0 {self.w} {H}" role="img" aria-label="{esc(label)}">{"".join(parts)}</svg>'


def _time_label(t: float, span: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return f"{d:%H:%M}" if span <= 2 * 86400 else f"{d:%b} {d.day}"


def line_chart(series: Mapping[str, Sequence[Point]], t0: float, t1: float, fmt: Fmt, *, label: str,
               axis: Fmt | None = None, w: int = 560) -> str:
    """One line per series over [t0, t1]; an empty mapping draws an empty frame with a note.
    `fmt` formats values in hover text, `axis` (default `fmt`) the y-axis labels."""
    values = [p.value for pts in series.values() for p in pts]
    ax = Axes.fit(w, max(values, default=0.0), axis or fmt)
    span = max(t1 - t0, 1.0)
    parts = ax.frame([(ax.x(i / 4), _time_label(t0 + span * i / 4, span)) for i in range(5)])
    legend = []
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = [(ax.x((p.t - t0) / span), ax.y(p.value), p) for p in sorted(pts, key=lambda p: p.t)]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
            parts.append(f'<polyline class="series" fill="none" stroke="{color}" points="{path}"/>')
        for x, y, p in coords:
            when = datetime.fromtimestamp(p.t, UTC).strftime("%b %d %H:%M")
            tip = f"{name} · {when} UTC · {fmt(p.value)}" + (f" · {p.note}" if p.note else "")
            parts.append(
                f'<circle class="point" data-series="{esc(name)}" data-value="{p.value:g}" cx="{x:.1f}" cy="{y:.1f}"'
                f' r="3.5" fill="{color}"><title>{esc(tip)}</title></circle>'
            )
        legend.append(f'<span class="key"><i class="c{i % len(PALETTE)}"></i>{esc(name)}</span>')
    return f'<figure class="chart-box">{ax.svg(label, parts, not values)}<figcaption>{"".join(legend)}</figcaption></figure>'


def bar_chart(bars: Sequence[tuple[float, float, str]], t0: float, t1: float, width: float, fmt: Fmt, *, label: str,
              axis: Fmt | None = None, w: int = 560) -> str:
    """One bar per `width` seconds over [t0, t1], labelled by day; each bar is (start, value, note)."""
    ax = Axes.fit(w, max((v for _, v, _ in bars), default=0.0), axis or fmt)
    span = max(t1 - t0, 1.0)
    slots = max(round(span / width), 1)
    slot = 1 / slots
    bar_w = max((ax.x(slot) - ax.x(0)) - 2, 1.5)
    picks = sorted({round(i * (slots - 1) / 4) for i in range(5)})
    parts = ax.frame([(ax.x(slot * (k + 0.5)), _time_label(t0 + k * width, span)) for k in picks])
    for start, value, note in bars:
        x = ax.x((start - t0) / span) + 1
        y = ax.y(value)
        tip = f"{datetime.fromtimestamp(start, UTC):%b %d}: {fmt(value)}" + (f" · {note}" if note else "")
        parts.append(
            f'<rect class="bar" data-value="{value:g}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}"'
            f' height="{max(ax.y(0) - y, 0.5):.1f}"><title>{esc(tip)}</title></rect>'
        )
    return f'<figure class="chart-box">{ax.svg(label, parts, not bars)}</figure>'


def stacked_bar_chart(stacks: Mapping[str, Mapping[float, float]], t0: float, t1: float, width: float, fmt: Fmt, *,
                      label: str, axis: Fmt | None = None, w: int = 560) -> str:
    """Bars of `width` seconds, one segment per series (series -> bar start -> value), with a legend."""
    totals: dict[float, float] = {}
    for values in stacks.values():
        for start, v in values.items():
            totals[start] = totals.get(start, 0.0) + v
    ax = Axes.fit(w, max(totals.values(), default=0.0), axis or fmt)
    span = max(t1 - t0, 1.0)
    slots = max(round(span / width), 1)
    bar_w = max((ax.x(1 / slots) - ax.x(0)) - 2, 1.5)
    picks = sorted({round(i * (slots - 1) / 4) for i in range(5)})
    parts = ax.frame([(ax.x((k + 0.5) / slots), _time_label(t0 + k * width, span)) for k in picks])
    base: dict[float, float] = {}
    legend = []
    for i, (name, values) in enumerate(stacks.items()):
        for start, v in sorted(values.items()):
            below = base.get(start, 0.0)
            base[start] = below + v
            y_top, y_bottom = ax.y(below + v), ax.y(below)
            tip = f"{datetime.fromtimestamp(start, UTC):%b %d} · {name}: {fmt(v)}"
            parts.append(
                f'<rect class="bar seg c{i % len(PALETTE)}" data-series="{esc(name)}" data-value="{v:g}"'
                f' x="{ax.x((start - t0) / span) + 1:.1f}" y="{y_top:.1f}" width="{bar_w:.1f}"'
                f' height="{max(y_bottom - y_top, 0.5):.1f}"><title>{esc(tip)}</title></rect>'
            )
        legend.append(f'<span class="key"><i class="c{i % len(PALETTE)}"></i>{esc(name)}</span>')
    return f'<figure class="chart-box">{ax.svg(label, parts, not totals)}<figcaption>{"".join(legend)}</figcaption></figure>'


def uptime_color(rate: float | None) -> str:
    if rate is None:
        return "none"
    if rate >= 0.99:
        return "good"
    if rate >= 0.9:
        return "fair"
    if rate >= 0.5:
        return "poor"
    return "down"


def uptime_strip(cells: Sequence[tuple[float, float | None, int]], *, label: str) -> str:
    """One bar per bucket, coloured by success rate; a bucket is (start, rate or None, requests)."""
    n = max(len(cells), 1)
    gap, cell_w = 1.0, 600 / n
    parts = []
    for i, (start, rate, requests) in enumerate(cells):
        when = datetime.fromtimestamp(start, UTC).strftime("%b %d %H:%M")
        tip = f"{when} UTC · " + (f"{rate:.1%} of {requests} requests succeeded" if rate is not None else "no requests")
        parts.append(
            f'<rect class="up {uptime_color(rate)}" x="{i * cell_w:.2f}" y="0" width="{max(cell_w - gap, 0.5):.2f}"'
            f' height="28" rx="1.5"><title>{esc(tip)}</title></rect>'
        )
    return f'<svg class="uptime" viewBox="0 0 600 28" preserveAspectRatio="none" role="img" aria-label="{esc(label)}">{"".join(parts)}</svg>'

"""Inline SVG charts, hand-written: no script, no fonts, no network.

The geometry (scales, ticks, points, bar extents) lives in small pure functions that the tests
check directly; the ``*_chart`` functions turn that geometry into SVG markup. Every label is
passed through ``safe.text``: a category name from the data cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from c2m_cli.report.safe import esc, text

PALETTE = ("#2f6db5", "#e07b39", "#3a9e6f", "#b5443b", "#7b5ea7", "#8c8c3a", "#4aa3b5", "#c45a9b")
WIDTH = 640
HEIGHT = 260
MARGIN = {"left": 64, "right": 16, "top": 16, "bottom": 40}

Formatter = Callable[[float], str]


def _default_format(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def nice_step(span: float, count: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 × 10^k) giving about ``count`` intervals over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (the first ≤ low, the last ≥ high)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:
        high = low + (abs(low) or 1.0)
    step = nice_step(high - low, count)
    start = math.floor(low / step + 1e-9) * step
    stop = math.ceil(high / step - 1e-9) * step
    n = int(round((stop - start) / step))
    return [round(start + i * step, 10) for i in range(n + 1)]


def scale(domain: tuple[float, float], target: tuple[float, float]) -> Callable[[float], float]:
    """A linear map from ``domain`` onto ``target`` (a zero-width domain maps to the middle)."""
    d0, d1 = domain
    r0, r1 = target
    if d1 == d0:
        middle = (r0 + r1) / 2
        return lambda _v: middle
    ratio = (r1 - r0) / (d1 - d0)
    return lambda v: r0 + (v - d0) * ratio


@dataclass
class Line:
    """One line of a line chart: y values over x (None leaves a gap)."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    color: str = PALETTE[0]
    dashed: bool = False


@dataclass
class Band:
    """A shaded interval between ``lo`` and ``hi`` over x."""

    name: str
    xs: Sequence[float]
    lo: Sequence[float]
    hi: Sequence[float]
    color: str = PALETTE[0]
    opacity: float = 0.18


@dataclass
class Plot:
    """The geometry of a line chart in pixels: what the SVG draws, and what tests check."""

    x_domain: tuple[float, float]
    y_domain: tuple[float, float]
    y_ticks: list[float]
    lines: list[list[list[tuple[float, float]]]] = field(default_factory=list)  # line → runs
    bands: list[list[tuple[float, float]]] = field(default_factory=list)  # polygon per band


def plot_geometry(
    lines: Sequence[Line],
    bands: Sequence[Band] = (),
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    zero_based: bool = True,
) -> Plot:
    """Scale lines and bands into the plotting box; y starts at 0 for non-negative data."""
    xs = [x for line in lines for x in line.xs] + [x for band in bands for x in band.xs]
    ys = [y for line in lines for y in line.ys if y is not None and math.isfinite(y)]
    ys += [v for band in bands for v in (*band.lo, *band.hi) if math.isfinite(v)]
    if not xs or not ys:
        xs, ys = xs or [0.0, 1.0], ys or [0.0, 1.0]
    y_low, y_high = min(ys), max(ys)
    if zero_based and y_low >= 0:
        y_low = 0.0
    ticks = nice_ticks(y_low, y_high)
    x_domain = (min(xs), max(xs))
    y_domain = (ticks[0], ticks[-1])
    sx = scale(x_domain, (MARGIN["left"], width - MARGIN["right"]))
    sy = scale(y_domain, (height - MARGIN["bottom"], MARGIN["top"]))
    plot = Plot(x_domain, y_domain, ticks)
    for line in lines:
        runs: list[list[tuple[float, float]]] = []
        current: list[tuple[float, float]] = []
        for x, y in zip(line.xs, line.ys, strict=True):
            if y is None or not math.isfinite(y):
                if current:
                    runs.append(current)
                current = []
                continue
            current.append((round(sx(x), 2), round(sy(y), 2)))
        if current:
            runs.append(current)
        plot.lines.append(runs)
    for band in bands:
        upper = [(round(sx(x), 2), round(sy(h), 2)) for x, h in zip(band.xs, band.hi, strict=True)]
        lower = [(round(sx(x), 2), round(sy(lo), 2)) for x, lo in zip(band.xs, band.lo, strict=True)]
        plot.bands.append(upper + lower[::-1])
    return plot


def _points(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in points)


def _svg_open(title: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{text(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{text(title)}</title>"
    )


def _legend(entries: Sequence[tuple[str, str, bool]]) -> str:
    items = "".join(
        f'<span class="key"><i style="background:{esc(color)}{";opacity:.35" if faint else ""}"></i>'
        f"{text(name)}</span>"
        for name, color, faint in entries
    )
    return f'<div class="legend">{items}</div>' if items else ""


def line_chart(
    title: str,
    lines: Sequence[Line],
    bands: Sequence[Band] = (),
    *,
    x_labels: Sequence[tuple[float, str]] = (),
    y_format: Formatter = _default_format,
    marker_x: float | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """A line chart with optional shaded bands, y grid, x labels and a vertical marker."""
    plot = plot_geometry(lines, bands, width=width, height=height)
    sx = scale(plot.x_domain, (MARGIN["left"], width - MARGIN["right"]))
    sy = scale(plot.y_domain, (height - MARGIN["bottom"], MARGIN["top"]))
    parts = [_svg_open(title, width, height)]
    for tick in plot.y_ticks:
        y = round(sy(tick), 2)
        parts.append(
            f'<line class="grid" x1="{MARGIN["left"]}" x2="{width - MARGIN["right"]}" y1="{y:g}" y2="{y:g}"/>'
            f'<text class="tick" x="{MARGIN["left"] - 6}" y="{y + 4:g}" text-anchor="end">{esc(y_format(tick))}</text>'
        )
    for x, label in x_labels:
        px = round(sx(x), 2)
        parts.append(
            f'<text class="tick" x="{px:g}" y="{height - MARGIN["bottom"] + 16}" text-anchor="middle">{text(label)}</text>'
        )
    for band, polygon in zip(bands, plot.bands, strict=True):
        if polygon:
            parts.append(
                f'<polygon points="{_points(polygon)}" fill="{esc(band.color)}" fill-opacity="{band.opacity:g}"/>'
            )
    if marker_x is not None:
        px = round(sx(marker_x), 2)
        parts.append(f'<line class="marker" x1="{px:g}" x2="{px:g}" y1="{MARGIN["top"]}" y2="{height - MARGIN["bottom"]}"/>')
    for line, runs in zip(lines, plot.lines, strict=True):
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        for run in runs:
            if len(run) == 1:
                x, y = run[0]
                parts.append(f'<circle cx="{x:g}" cy="{y:g}" r="2.5" fill="{esc(line.color)}"/>')
            else:
                parts.append(
                    f'<polyline points="{_points(run)}" fill="none" stroke="{esc(line.color)}" stroke-width="2"{dash}/>'
                )
    parts.append("</svg>")
    legend = [(line.name, line.color, False) for line in lines] + [(b.name, b.color, True) for b in bands]
    return f'<figure class="fig">{"".join(parts)}{_legend(legend)}</figure>'


@dataclass
class Bar:
    label: str
    value: float
    value_label: str
    color: str = PALETTE[0]


def bar_extents(values: Sequence[float], span: float) -> list[float]:
    """Bar lengths in pixels, proportional to the values, the largest filling ``span``."""
    finite = [v if math.isfinite(v) and v > 0 else 0.0 for v in values]
    top = max(finite, default=0.0)
    if top <= 0:
        return [0.0 for _ in finite]
    return [round(v / top * span, 2) for v in finite]


def bar_chart(title: str, bars: Sequence[Bar], *, width: int = WIDTH, label_width: int = 170) -> str:
    """Horizontal bars, one row per item, labelled on the left and valued on the right."""
    row = 26
    height = max(len(bars), 1) * row + 8
    span = width - label_width - 90
    extents = bar_extents([b.value for b in bars], span)
    parts = [_svg_open(title, width, height)]
    for i, (bar, extent) in enumerate(zip(bars, extents, strict=True)):
        y = 4 + i * row
        parts.append(
            f'<text class="label" x="{label_width - 8}" y="{y + 16}" text-anchor="end">{text(_clip(bar.label, 22))}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{extent:g}" height="{row - 8}" rx="2" fill="{esc(bar.color)}"/>'
            f'<text class="value" x="{label_width + extent + 6:g}" y="{y + 16}">{text(bar.value_label)}</text>'
        )
    parts.append("</svg>")
    return f'<figure class="fig">{"".join(parts)}</figure>'


def column_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    highlight: Sequence[bool] | None = None,
    y_format: Formatter = _default_format,
    width: int = WIDTH,
    height: int = 220,
) -> str:
    """Vertical columns (a histogram), optionally highlighting some of them."""
    ticks = nice_ticks(0.0, max([v for v in values if math.isfinite(v)], default=1.0) or 1.0)
    sy = scale((ticks[0], ticks[-1]), (height - MARGIN["bottom"], MARGIN["top"]))
    inner = width - MARGIN["left"] - MARGIN["right"]
    slot = inner / max(len(values), 1)
    parts = [_svg_open(title, width, height)]
    for tick in ticks:
        y = round(sy(tick), 2)
        parts.append(
            f'<line class="grid" x1="{MARGIN["left"]}" x2="{width - MARGIN["right"]}" y1="{y:g}" y2="{y:g}"/>'
            f'<text class="tick" x="{MARGIN["left"] - 6}" y="{y + 4:g}" text-anchor="end">{esc(y_format(tick))}</text>'
        )
    every = max(1, math.ceil(len(labels) / 8))
    for i, value in enumerate(values):
        x = MARGIN["left"] + i * slot
        top = sy(value if math.isfinite(value) else 0.0)
        color = PALETTE[1] if highlight is not None and highlight[i] else PALETTE[0]
        parts.append(
            f'<rect x="{x + 1:.2f}" y="{top:.2f}" width="{max(slot - 2, 1):.2f}" '
            f'height="{height - MARGIN["bottom"] - top:.2f}" fill="{color}"/>'
        )
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x + slot / 2:.2f}" y="{height - MARGIN["bottom"] + 16}" '
                f'text-anchor="middle">{text(_clip(labels[i], 12))}</text>'
            )
    parts.append("</svg>")
    return f'<figure class="fig">{"".join(parts)}</figure>'


def _clip(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"

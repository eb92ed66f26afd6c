"""Charts without script, fonts or network: inline SVG for lines and histograms, HTML for bars.

Every chart carries its axis titles with units, dates with their year, a legend whose swatches are
the colours drawn, and (weekly and daily series) the market's festival windows as shaded spans.
SVG text is sized in user units; the page's stylesheet enlarges it on a phone so that it stays
at least 10 px after the chart is scaled down, and hides every other date label there (``minor``).
Horizontal bars are HTML (real text that wraps), so they read at any width.

The geometry (scales, ticks, points, bar extents) lives in small pure functions that the tests
check directly. Every label passes through ``safe.text``: a name from the data cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from c2m_cli.report.safe import esc, text

PALETTE = ("#2f6db5", "#e07b39", "#3a9e6f", "#b5443b", "#7b5ea7", "#8c8c3a", "#4aa3b5", "#c45a9b")
INK = "#39414f"
FORECAST = "#1f5fa8"
BAND80 = "#8db4e2"
BAND90 = "#d3e2f4"
FESTIVAL = "#f3d9b1"
HIGHLIGHT = "#e07b39"
PLAIN = "#9fb3c8"
WIDTH = 640
HEIGHT = 280
MARGIN = {"left": 70, "right": 16, "top": 30, "bottom": 50}

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
    """A shaded interval between ``lo`` and ``hi`` over x, in an opaque colour (legend = drawing)."""

    name: str
    xs: Sequence[float]
    lo: Sequence[float]
    hi: Sequence[float]
    color: str = BAND80


@dataclass
class Span:
    """A shaded stretch of x (a festival window), labelled at the top of the plot."""

    label: str
    start: float
    end: float


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


def _axes(y_title: str, x_title: str, width: int, height: int) -> str:
    """The y title above the y axis (horizontal, Economist style) and the x title under the dates."""
    return (
        f'<text class="axis-title" x="2" y="14">{text(y_title)}</text>'
        f'<text class="axis-title" x="{width - MARGIN["right"]}" y="{height - 6}" text-anchor="end">{text(x_title)}</text>'
    )


LegendEntry = tuple[str, str, str]  # (name, colour, kind: line | dash | box)


def legend(entries: Sequence[LegendEntry]) -> str:
    items = []
    for name, color, kind in entries:
        css = {"line": "key-line", "dash": "key-dash", "box": "key-box"}[kind]
        items.append(f'<span class="key"><i class="{css}" style="--c:{esc(color)}"></i>{text(name)}</span>')
    return f'<div class="legend">{"".join(items)}</div>' if items else ""


def _figure(title: str, svg: str, entries: Sequence[LegendEntry], note: str = "") -> str:
    caption = f"<figcaption>{text(title)}</figcaption>"
    extra = f'<p class="chart-note">{text(note)}</p>' if note else ""
    return f'<figure class="fig">{caption}{svg}{legend(entries)}{extra}</figure>'


def line_chart(
    title: str,
    lines: Sequence[Line],
    bands: Sequence[Band] = (),
    *,
    x_labels: Sequence[tuple[float, str]] = (),
    y_format: Formatter = _default_format,
    y_title: str = "",
    x_title: str = "",
    spans: Sequence[Span] = (),
    span_name: str = "",
    marker_x: float | None = None,
    marker_label: str = "",
    note: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """A line chart with shaded interval bands, festival spans, y grid, dated x labels and a marker."""
    plot = plot_geometry(lines, bands, width=width, height=height)
    left, right = MARGIN["left"], width - MARGIN["right"]
    top, bottom = MARGIN["top"], height - MARGIN["bottom"]
    sx = scale(plot.x_domain, (left, right))
    sy = scale(plot.y_domain, (bottom, top))
    parts = [_svg_open(title, width, height), _axes(y_title, x_title, width, height)]
    shown_spans = []
    labels = []
    last_label = {0: -1e9, 1: -1e9}
    gap = 14 + 8 * max((len(s.label) for s in spans), default=0)
    for span in spans:
        x0, x1 = max(sx(span.start), left), min(sx(span.end), right)
        if x1 < left or x0 > right:
            continue
        x1 = max(x1, x0 + 2)
        parts.append(f'<rect class="fest" x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{bottom - top}" fill="{FESTIVAL}"/>')
        shown_spans.append(span)
        # two rows of labels; a label that would overlap both rows is left to the legend
        row = 0 if x0 - last_label[0] > gap else 1
        if x0 - last_label[row] > gap:
            last_label[row] = x0
            minor = " minor" if row else ""
            # near the right edge the label ends at the span instead of running past the chart
            room = right - x0
            place = f'x="{x0 + 1:.1f}"' if room > 12 * len(span.label) + 8 else f'x="{x1 - 1:.1f}" text-anchor="end"'
            labels.append(f'<text class="fest-label{minor}" {place} y="{top + 11 + row * 13}">{text(span.label)}</text>')
    parts.extend(labels)
    for tick in plot.y_ticks:
        y = round(sy(tick), 2)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{right}" y1="{y:g}" y2="{y:g}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:g}" text-anchor="end">{esc(y_format(tick))}</text>'
        )
    for i, (x, label) in enumerate(x_labels):
        px = round(sx(x), 2)
        minor = " minor" if i % 2 else ""
        # a label near the right edge ends at its tick, so that it is not cut off
        anchor = "end" if px > right - 40 else "middle"
        parts.append(
            f'<line class="axis" x1="{px:g}" x2="{px:g}" y1="{bottom}" y2="{bottom + 4}"/>'
            f'<text class="tick{minor}" x="{px:g}" y="{bottom + 18}" text-anchor="{anchor}">{text(label)}</text>'
        )
    parts.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    for band, polygon in zip(bands, plot.bands, strict=True):
        if polygon:
            parts.append(f'<polygon points="{_points(polygon)}" fill="{esc(band.color)}"/>')
    if marker_x is not None:
        px = round(sx(marker_x), 2)
        parts.append(f'<line class="marker" x1="{px:g}" x2="{px:g}" y1="{top}" y2="{bottom}"/>')
        if marker_label:
            parts.append(f'<text class="marker-label" x="{px - 4:g}" y="{bottom - 6}" text-anchor="end">{text(marker_label)}</text>')
    for line, runs in zip(lines, plot.lines, strict=True):
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        for run in runs:
            if len(run) == 1:
                x, y = run[0]
                parts.append(f'<circle cx="{x:g}" cy="{y:g}" r="2.5" fill="{esc(line.color)}"/>')
            else:
                parts.append(
                    f'<polyline points="{_points(run)}" fill="none" stroke="{esc(line.color)}" stroke-width="2.2"{dash}/>'
                )
    parts.append("</svg>")
    entries: list[LegendEntry] = [(line.name, line.color, "dash" if line.dashed else "line") for line in lines]
    entries += [(b.name, b.color, "box") for b in bands]
    if shown_spans and span_name:
        entries.append((span_name, FESTIVAL, "box"))
    return _figure(title, "".join(parts), entries, note)


@dataclass
class Bar:
    label: str
    value: float
    value_label: str
    color: str = PALETTE[0]


def bar_extents(values: Sequence[float], span: float) -> list[float]:
    """Bar lengths, proportional to the values, the largest filling ``span``."""
    finite = [v if math.isfinite(v) and v > 0 else 0.0 for v in values]
    top = max(finite, default=0.0)
    if top <= 0:
        return [0.0 for _ in finite]
    return [round(v / top * span, 2) for v in finite]


def bar_chart(title: str, bars: Sequence[Bar], *, note: str = "", legend_entries: Sequence[LegendEntry] = ()) -> str:
    """Horizontal bars in HTML, one row per item: label, bar (share of the largest), value."""
    extents = bar_extents([b.value for b in bars], 100.0)
    rows = "".join(
        f'<div class="bar-row"><span class="bar-label">{text(bar.label)}</span>'
        f'<span class="bar-track"><span class="bar" style="width:{extent:g}%;background:{esc(bar.color)}"></span></span>'
        f'<span class="bar-value">{text(bar.value_label)}</span></div>'
        for bar, extent in zip(bars, extents, strict=True)
    )
    extra = f'<p class="chart-note">{text(note)}</p>' if note else ""
    return (
        f'<figure class="fig bars" role="img" aria-label="{text(title)}"><figcaption>{text(title)}</figcaption>'
        f"{rows}{legend(legend_entries)}{extra}</figure>"
    )


def column_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    highlight: Sequence[bool] | None = None,
    highlight_name: str = "",
    plain_name: str = "",
    y_format: Formatter = _default_format,
    y_title: str = "",
    x_title: str = "",
    note: str = "",
    width: int = WIDTH,
    height: int = 250,
) -> str:
    """Vertical columns (a histogram), optionally highlighting some (a target band), with a legend."""
    ticks = nice_ticks(0.0, max([v for v in values if math.isfinite(v)], default=1.0) or 1.0)
    left, right = MARGIN["left"], width - MARGIN["right"]
    bottom = height - MARGIN["bottom"]
    sy = scale((ticks[0], ticks[-1]), (bottom, MARGIN["top"]))
    slot = (right - left) / max(len(values), 1)
    parts = [_svg_open(title, width, height), _axes(y_title, x_title, width, height)]
    for tick in ticks:
        y = round(sy(tick), 2)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{right}" y1="{y:g}" y2="{y:g}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:g}" text-anchor="end">{esc(y_format(tick))}</text>'
        )
    every = max(1, math.ceil(len(labels) / 6))
    for i, value in enumerate(values):
        x = left + i * slot
        top = sy(value if math.isfinite(value) else 0.0)
        lit = highlight is not None and highlight[i]
        color = HIGHLIGHT if lit else (PLAIN if highlight is not None else PALETTE[0])
        parts.append(
            f'<rect x="{x + 1:.2f}" y="{top:.2f}" width="{max(slot - 2, 1):.2f}" '
            f'height="{bottom - top:.2f}" fill="{color}"/>'
        )
        if i % every == 0:
            minor = " minor" if (i // every) % 2 else ""
            parts.append(
                f'<text class="tick{minor}" x="{x:.2f}" y="{bottom + 18}" text-anchor="middle">{text(_clip(labels[i], 12))}</text>'
            )
    parts.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    parts.append("</svg>")
    entries: list[LegendEntry] = []
    if highlight is not None and any(highlight) and highlight_name:
        entries = [(highlight_name, HIGHLIGHT, "box"), (plain_name, PLAIN, "box")]
    return _figure(title, "".join(parts), entries, note)


def heat_color(index: float | None) -> str:
    """A diverging colour for an index around 1: orange above (over-represented), blue below."""
    if index is None or not math.isfinite(index) or index <= 0:
        return "#f4f5f7"
    strength = max(-1.0, min(1.0, math.log2(index) / 2.0))
    if strength >= 0:
        r, g, b = 255, int(246 - 100 * strength), int(238 - 150 * strength)
    else:
        s = -strength
        r, g, b = int(246 - 80 * s), int(248 - 50 * s), 255
    return f"#{r:02x}{g:02x}{b:02x}"


def _clip(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"

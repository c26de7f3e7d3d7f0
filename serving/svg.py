"""Charts as inline SVG, drawn in Python: the dashboard loads nothing from anywhere else.

Small pure functions: a linear scale, nice ticks, and two charts (lines, grouped bars), each an
`<svg class="chart">` string with a title, axes, a legend and one element per data series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#7f7f7f")
MARGIN = {"left": 52, "right": 24, "top": 28, "bottom": 34}


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    dashed: bool = False


def scale(lo: float, hi: float, out_lo: float, out_hi: float):
    """Linear map of [lo, hi] onto [out_lo, out_hi] (a flat domain maps to its middle)."""
    if hi == lo:
        return lambda _v: (out_lo + out_hi) / 2
    return lambda v: out_lo + (v - lo) * (out_hi - out_lo) / (hi - lo)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round values within [lo, hi] (steps of 1, 2 or 5 × 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    # the round step nearest to the raw one (by ratio)
    step = min((m * magnitude for m in (1, 2, 5, 10)), key=lambda c: abs(math.log(c / raw)))
    first = math.ceil(lo / step) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _frame(title: str, width: int, height: int, body: list[str], legend: list[tuple[str, str, bool]]) -> str:
    items = []
    x = MARGIN["left"]
    for label, color, dashed in legend:
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        items.append(
            f'<line x1="{x}" y1="{height - 8}" x2="{x + 18}" y2="{height - 8}" stroke="{color}" '
            f'stroke-width="3"{dash}/>'
            f'<text x="{x + 22}" y="{height - 4}" font-size="11">{escape(label)}</text>'
        )
        x += 30 + 7 * len(label)
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">'
        f"{escape(title)}</text>" + "".join(body) + "".join(items) + "</svg>"
    )


def _axes(xs_range, ys_range, width, height, x_labels=None) -> tuple[list[str], object, object]:
    (x_lo, x_hi), (y_lo, y_hi) = xs_range, ys_range
    left, right = MARGIN["left"], width - MARGIN["right"]
    top, bottom = MARGIN["top"], height - MARGIN["bottom"]
    sx, sy = scale(x_lo, x_hi, left, right), scale(y_lo, y_hi, bottom, top)
    body = [
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>',
    ]
    for tick in nice_ticks(y_lo, y_hi):
        y = sy(tick)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_fmt(tick)}</text>'
        )
    if x_labels:
        for value, text in x_labels:
            body.append(
                f'<text x="{sx(value):.1f}" y="{bottom + 13}" text-anchor="middle" font-size="10">'
                f"{escape(text)}</text>"
            )
    return body, sx, sy


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    width: int = 460,
    height: int = 240,
    x_labels: Sequence[tuple[float, str]] | None = None,
    hlines: Sequence[tuple[str, float]] = (),
    diagonal: bool = False,
    points: bool = False,
) -> str:
    """Lines (one `<polyline class="series">` per series), optional horizontal reference lines and
    the y = x diagonal (a calibration curve's ideal)."""
    xs = [x for s in series for x in s.xs]
    ys = [y for s in series for y in s.ys if y is not None and math.isfinite(y)] + [v for _, v in hlines]
    if diagonal:
        ys += xs
    if not xs or not ys:
        return _frame(title, width, height, [_empty(width, height)], [])
    x_range = (min(xs), max(xs))
    y_lo, y_hi = min(ys), max(ys)
    pad = (y_hi - y_lo) * 0.05 or 0.05
    body, sx, sy = _axes(x_range, (y_lo - pad, y_hi + pad), width, height, x_labels)
    legend = []
    if diagonal:
        body.append(
            f'<line x1="{sx(x_range[0]):.1f}" y1="{sy(x_range[0]):.1f}" x2="{sx(x_range[1]):.1f}" '
            f'y2="{sy(x_range[1]):.1f}" stroke="#999" stroke-dasharray="4 3"/>'
        )
    for k, (label, value) in enumerate(hlines):
        color = PALETTE[(len(series) + k) % len(PALETTE)]
        body.append(
            f'<line class="reference" x1="{MARGIN["left"]}" y1="{sy(value):.1f}" '
            f'x2="{width - MARGIN["right"]}" '
            f'y2="{sy(value):.1f}" stroke="{color}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        legend.append((label, color, True))
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        pts = [(sx(x), sy(y)) for x, y in zip(s.xs, s.ys, strict=True) if y is not None and math.isfinite(y)]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        body.append(
            f'<polyline class="series" data-label="{escape(s.label)}" data-points="{len(pts)}" fill="none" '
            f'stroke="{color}" stroke-width="2"{dash} points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            + '"/>'
        )
        if points:
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in pts]
        legend.append((s.label, color, s.dashed))
    return _frame(title, width, height, body, legend)


def bar_chart(
    title: str,
    categories: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: int = 460,
    height: int = 200,
) -> str:
    """Grouped bars: one `<rect class="bar">` per category and group (model vs market per runner)."""
    values = [v for _, vs in groups for v in vs if v is not None and math.isfinite(v)]
    if not categories or not values:
        return _frame(title, width, height, [_empty(width, height)], [])
    body, _, sy = _axes((0, 1), (0, max(values) * 1.1), width, height)
    left, right = MARGIN["left"], width - MARGIN["right"]
    slot = (right - left) / len(categories)
    bar = slot * 0.8 / len(groups)
    legend = []
    for g, (label, vs) in enumerate(groups):
        color = PALETTE[g % len(PALETTE)]
        legend.append((label, color, False))
        for i, v in enumerate(vs):
            if v is None or not math.isfinite(v):
                continue
            x = left + i * slot + slot * 0.1 + g * bar
            y = sy(v)
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{sy(0) - y:.1f}" fill="{color}"><title>{escape(categories[i])} {escape(label)}: '
                f"{v:.3f}</title></rect>"
            )
    for i, name in enumerate(categories):
        body.append(
            f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - MARGIN["bottom"] + 13}" '
            'text-anchor="middle" '
            f'font-size="10">{escape(name)}</text>'
        )
    return _frame(title, width, height, body, legend)


def _empty(width: int, height: int) -> str:
    return (
        f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12" '
        'fill="#777">no data yet</text>'
    )

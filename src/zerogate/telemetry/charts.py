"""Draw small inline SVG charts for reports: pure string builders, no dependencies.

Line charts plot epoch seconds on x and label them in UTC. Every label is escaped, so
untrusted names (task types) are safe to pass. The SVG carries no ``xmlns`` because it
is meant to sit inline in an HTML5 page, which needs no namespace and must hold no URL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

__all__ = ["PALETTE", "bar_chart", "format_value", "line_chart"]

PALETTE: tuple[str, ...] = (
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
)

Point = tuple[float, float | None]

# Room for tick labels such as "1.5 min" on the left and a time row below.
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 28, 30
_BAR_ROW = 22
_LABEL_CHARS = 32
# Candidate x tick steps, seconds: whole minutes, hours, days and weeks read best.
_TIME_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
               2592000)
_MAX_TICKS = 6


def format_value(value: float, unit: str = "") -> str:
    """Format a number to 3 significant digits with its unit; seconds below one become ms."""
    if not math.isfinite(value):
        return "–"
    if unit == "s":
        return _duration(value)
    if unit == "bytes":
        return _bytes(value)
    text = _significant(value)
    if not unit:
        return text
    # "%" and rates such as "/s" read as one token; other units take a space.
    return f"{text}{unit}" if unit[0] in "%/" else f"{text} {unit}"


def _significant(value: float) -> str:
    rounded = float(f"{value:.3g}")  # round first so 999.7 becomes "1k", not "1e+03"
    if rounded == 0:
        return "0"
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(rounded) >= factor:
            return f"{rounded / factor:.3g}{suffix}"
    return f"{rounded:.3g}"


def _duration(seconds: float) -> str:
    size = abs(seconds)
    if 0 < size < 1:
        return f"{_significant(seconds * 1000)} ms"
    if size >= 7200:
        return f"{_significant(seconds / 3600)} h"
    if size >= 120:
        return f"{_significant(seconds / 60)} min"
    return f"{_significant(seconds)} s"


def _bytes(size: float) -> str:
    for power, suffix in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(size) >= 1024**power:
            return f"{float(size) / 1024**power:.3g} {suffix}"
    return f"{_significant(size)} B"


@dataclass(frozen=True, slots=True)
class _Frame:
    """Map data coordinates into the plot area of a width x height viewBox."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    width: int
    height: int

    def px(self, x: float) -> float:
        """Place ``x`` horizontally; a single instant sits in the middle."""
        span = self.width - _LEFT - _RIGHT
        if self.x_hi == self.x_lo:
            return _LEFT + span / 2
        return _LEFT + (x - self.x_lo) / (self.x_hi - self.x_lo) * span

    def py(self, y: float) -> float:
        """Place ``y`` vertically; larger values sit higher (smaller pixel y)."""
        span = self.height - _TOP - _BOTTOM
        return self.height - _BOTTOM - (y - self.y_lo) / (self.y_hi - self.y_lo) * span


def line_chart(series: Mapping[str, Sequence[Point]], *, title: str, y_unit: str,
               width: int = 640, height: int = 220) -> str:
    """Draw one line per named series over UTC time; a None value leaves a gap in its line."""
    clean = {name: _clean(points) for name, points in series.items()}
    values = [y for points in clean.values() for _, y in points if y is not None]
    if not values:
        return _no_data(title, width, height)
    xs = [x for points in clean.values() for x, _ in points]
    y_lo, y_hi, step = _y_scale(min(values), max(values))
    frame = _Frame(min(xs), max(xs), y_lo, y_hi, width, height)
    body = [*_y_axis(frame, step, y_unit), *_x_axis(frame)]
    for index, (name, points) in enumerate(clean.items()):
        body += _series(frame, name, points, PALETTE[index % len(PALETTE)], index)
    if len(clean) > 1:
        body += _legend(list(clean))
    return _svg(title, width, height, body)


def _clean(points: Sequence[Point]) -> list[Point]:
    """Sort by time, drop points without a finite time, and turn NaN or inf into gaps."""
    kept = [(float(x), None if y is None or not math.isfinite(y) else float(y))
            for x, y in points if math.isfinite(x)]
    return sorted(kept, key=lambda point: point[0])


def _y_scale(lowest: float, highest: float) -> tuple[float, float, float]:
    """Return a range that includes zero, ends on a round step, and is never empty."""
    lowest, highest = min(lowest, 0.0), max(highest, 0.0)
    step = _nice_step((highest - lowest) / 4 or 0.25)
    # The epsilon keeps float noise (0.30000000000000004 / 0.1) from adding a whole step.
    y_lo = math.floor(lowest / step + 1e-9) * step
    y_hi = math.ceil(highest / step - 1e-9) * step
    return y_lo, (y_hi if y_hi > y_lo else y_lo + step), step


def _nice_step(raw: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(raw))
    fraction = raw / magnitude
    for limit, nice in ((1.5, 1.0), (2.25, 2.0), (3.5, 2.5), (7.5, 5.0)):
        if fraction < limit:
            return nice * magnitude
    return 10 * magnitude


def _y_axis(frame: _Frame, step: float, unit: str) -> list[str]:
    count = round((frame.y_hi - frame.y_lo) / step)
    right = frame.width - _RIGHT
    parts = []
    for i in range(count + 1):
        value = frame.y_lo + i * step
        y = frame.py(value)
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{right}" '
                     f'y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(format_value(value, unit))}</text>")
    return parts


def _x_axis(frame: _Frame) -> list[str]:
    base = frame.height - _BOTTOM
    parts = [f'<line class="axis" x1="{_LEFT}" y1="{base}" x2="{frame.width - _RIGHT}" '
             f'y2="{base}" stroke="#9ca3af"/>']
    ticks, pattern = _time_ticks(frame.x_lo, frame.x_hi)
    for tick in ticks:
        parts.append(f'<text class="tick" x="{frame.px(tick):.1f}" y="{base + 16}" '
                     f'text-anchor="middle">{_time_label(tick, pattern)}</text>')
    parts.append(f'<text class="unit" x="{frame.width - _RIGHT}" y="{frame.height - 2}" '
                 'text-anchor="end">UTC</text>')
    return parts


def _time_ticks(start: float, end: float) -> tuple[list[float], str]:
    """Pick round UTC instants to label; fall back to the ends when none fall inside."""
    span = end - start
    step = next((s for s in _TIME_STEPS if span / s <= _MAX_TICKS), _TIME_STEPS[-1])
    inside = range(math.ceil(start / step) * step, math.floor(end) + 1, step)
    ticks = [float(t) for t in inside[: _MAX_TICKS + 1]] or sorted({start, end})
    if step >= 86400:
        return ticks, "%Y-%m-%d"
    return ticks, ("%m-%d %H:%M" if span >= 86400 else "%H:%M")


def _time_label(epoch_s: float, pattern: str) -> str:
    try:
        return datetime.fromtimestamp(epoch_s, UTC).strftime(pattern)
    except (OverflowError, OSError, ValueError):  # far outside the calendar: show the number
        return _significant(epoch_s)


def _series(frame: _Frame, name: str, points: list[Point], color: str, index: int) -> list[str]:
    """Draw each unbroken run of a series: a polyline, or a dot for a lone point."""
    attrs = f'class="series series-{index}" data-series="{escape(name)}"'
    parts = []
    for run in _runs(points):
        coords = [(frame.px(x), frame.py(y)) for x, y in run]
        if len(coords) == 1:
            (cx, cy), = coords
            parts.append(f'<circle {attrs} cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{color}"/>')
        else:
            joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline {attrs} points="{joined}" fill="none" stroke="{color}" '
                         'stroke-width="2" stroke-linejoin="round"/>')
    return parts


def _runs(points: list[Point]) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def _legend(names: list[str]) -> list[str]:
    parts: list[str] = []
    x = float(_LEFT)
    for index, name in enumerate(names):
        color = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="8" width="12" height="4" fill="{color}"/>'
                     f'<text class="legend" x="{x + 16:.1f}" y="14">{escape(name)}</text>')
        x += 28 + 7 * len(name)  # about one glyph width per character at 11px
    return parts


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, unit: str,
              width: int = 640) -> str:
    """Draw one labelled horizontal bar per (label, value), longest for the largest value."""
    if not bars:
        return _no_data(title, width, 80)
    height = 16 + _BAR_ROW * len(bars)
    label_w = min(220, width * 0.35)
    plot_w = width - label_w - 80
    finite = [value for _, value in bars if math.isfinite(value)]
    top = max([*finite, 0.0]) or 1.0
    body = [_bar(i, label, value, top, label_w, plot_w, unit) for i, (label, value) in
            enumerate(bars)]
    return _svg(title, width, height, body)


def _bar(index: int, label: str, value: float, top: float, label_w: float, plot_w: float,
         unit: str) -> str:
    y = 8 + index * _BAR_ROW
    length = max(value, 0.0) / top * plot_w if math.isfinite(value) else 0.0
    shown = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
    text = escape(format_value(value, unit))
    return (f'<text class="label" x="{label_w - 6:.1f}" y="{y + 15}" text-anchor="end">'
            f"{escape(shown)}</text>"
            f'<rect class="bar" x="{label_w:.1f}" y="{y + 3}" width="{length:.1f}" '
            f'height="{_BAR_ROW - 6}" fill="{PALETTE[0]}"><title>{escape(label)}: {text}'
            f'</title></rect><text class="value" x="{label_w + length + 4:.1f}" '
            f'y="{y + 15}">{text}</text>')


def _no_data(title: str, width: int, height: int) -> str:
    return _svg(title, width, height, [
        f'<text class="no-data" x="{width / 2:.1f}" y="{height / 2:.1f}" '
        'text-anchor="middle" fill="#6b7280">no data</text>'])


def _svg(title: str, width: int, height: int, body: list[str]) -> str:
    label = escape(title)
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{label}" font-family="sans-serif" '
            f'font-size="11"><title>{label}</title>{"".join(body)}</svg>')

"""Inline SVG charts (horizontal bars, columns, histograms): no library and no script, so the page
renders anywhere offline. Every label is escaped here; the result is safe to embed as markup.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from pipeline.report.figures import Dist

BLUE, RED, AMBER, GREY = "#3b6ea8", "#c0504d", "#d9892b", "#8a94a6"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12"'


def fmt_num(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{int(value):,}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" {FONT}><title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def hbars(items: list[tuple[str, float]], title: str, *, color: str = BLUE, width: int = 560,
          label_width: int = 190, colors: list[str] | None = None) -> Markup:
    """One horizontal bar per (label, value), longest label clipped (full text in a tooltip)."""
    if not items:
        return Markup('<p class="empty">nothing to show</p>')
    bar_h, gap = 18, 6
    top = max(v for _, v in items) or 1
    span = width - label_width - 80
    fits = int((label_width - 12) / 6.8)
    body = []
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = max(1.0, span * value / top) if value else 0
        fill = colors[i] if colors else color
        body.append(f'<g><title>{escape(label)}: {fmt_num(value)}</title>'
                    f'<text x="{label_width - 8}" y="{y + 13}" text-anchor="end" fill="#222">'
                    f'{escape(_clip(label, fits))}</text>'
                    f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="2" fill="{fill}"/>'
                    f'<text x="{label_width + w + 6:.1f}" y="{y + 13}" fill="#444">{fmt_num(value)}</text></g>')
    return _svg(width, gap + len(items) * (bar_h + gap), title, body)


def columns(bars: list[tuple[str, int]], title: str, *, color: str = BLUE, width: int = 520,
            height: int = 190, xlabel: str = "") -> Markup:
    """Vertical columns with a count axis; every label shown when few, else first, middle, last."""
    if not bars:
        return Markup('<p class="empty">nothing to show</p>')
    left, right, top, bottom = 48, 12, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(c for _, c in bars) or 1
    step = min(plot_w / len(bars), 44)
    shown = tick_positions(len(bars))
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999"/>',
            f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" fill="#666">{fmt_num(peak)}</text>',
            f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" fill="#666">0</text>']
    for i, (label, count) in enumerate(bars):
        h = plot_h * count / peak
        x = left + i * step
        body.append(f'<g><title>{escape(label)}: {fmt_num(count)}</title>'
                    f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(step - 2, 1):.1f}" '
                    f'height="{h:.1f}" fill="{color}"/></g>')
        if i in shown:
            body.append(f'<text x="{x + step / 2:.1f}" y="{top + plot_h + 15}" text-anchor="middle" '
                        f'fill="#444">{escape(_clip(label, 12))}</text>')
    if xlabel:
        body.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
                    f'fill="#666">{escape(xlabel)}</text>')
    return _svg(width, height, title, body)


def tick_positions(n: int, ticks: int = 6) -> set[int]:
    """Which of `n` columns get a label: about `ticks` evenly spaced, always the last one."""
    every = max(1, math.ceil(n / ticks))
    shown = set(range(0, n, every))
    last = n - 1
    if last not in shown:
        if last - max(shown) < every / 2:
            shown.discard(max(shown))
        shown.add(last)
    return shown


def histogram_bars(dist: Dist, bins: int = 30) -> list[tuple[str, int]]:
    """Bars of a distribution: one per value when there are few, else equal bins up to the 99th
    percentile plus one overflow bin for the long tail."""
    values = sorted(dist.counts)
    if not values:
        return []
    if len(values) <= 16:
        return [(fmt_num(v), dist.counts[v]) for v in values]
    lo, hi = values[0], dist.quantile(0.99)
    if hi <= lo:
        hi = values[-1]
    integral = all(isinstance(v, int) for v in values)
    width = (hi - lo) / bins
    if integral:
        width = max(1, math.ceil((hi - lo + 1) / bins))
    edges = [lo + i * width for i in range(bins + 1)]
    counts = [0] * bins
    overflow = 0
    for v in values:
        if v > hi:
            overflow += dist.counts[v]
        else:
            counts[min(int((v - lo) / width), bins - 1)] += dist.counts[v]
    while counts and counts[-1] == 0:
        counts.pop()
    bars = [(f"{fmt_num(edges[i])}\u2013{fmt_num(min(edges[i + 1] - (1 if integral else 0), hi))}"
             if not integral or width > 1 else fmt_num(edges[i]), c) for i, c in enumerate(counts)]
    if overflow:
        bars.append((f">{fmt_num(hi)}", overflow))
    return bars


def histogram(dist: Dist, title: str, *, xlabel: str = "", color: str = BLUE) -> Markup:
    return columns(histogram_bars(dist), title, xlabel=xlabel, color=color)

"""Small inline SVG charts (histogram, horizontal bars) so the HTML report needs no plotting
library and opens offline."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 460
BAR_COLOR = "#3b6ea5"


def histogram(
    values: Sequence[float],
    *,
    title: str,
    bins: int = 10,
    low: float | None = None,
    high: float | None = None,
) -> str:
    """Counts of ``values`` in ``bins`` equal-width bins over ``low..high``."""
    if not values:
        return _frame(title, 60, '<text x="10" y="40" class="muted">no values</text>')
    lo = min(values) if low is None else low
    hi = max(values) if high is None else high
    if hi <= lo:
        hi = lo + 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))] += 1
    height, top, left, plot_h = 180, 28, 36, 120
    bar_w = (WIDTH - left - 10) / bins
    peak = max(counts) or 1
    parts = []
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + i * bar_w
        y = top + plot_h - h
        label = f"{lo + i * (hi - lo) / bins:.3g}–{lo + (i + 1) * (hi - lo) / bins:.3g}: {c}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
            f'fill="{BAR_COLOR}"><title>{escape(label)}</title></rect>'
        )
    base = top + plot_h
    parts.append(f'<line x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="#999"/>')
    parts.append(f'<text x="{left}" y="{base + 16}" class="muted">{lo:.3g}</text>')
    parts.append(
        f'<text x="{WIDTH - 10}" y="{base + 16}" class="muted" text-anchor="end">{hi:.3g}</text>'
    )
    parts.append(f'<text x="4" y="{top + 10}" class="muted">{peak}</text>')
    return _frame(title, height, "".join(parts))


def bars(labels: Sequence[str], values: Sequence[float], *, title: str, high: float = 1.0) -> str:
    """One horizontal bar per label, scaled to ``high`` (1.0 for rates)."""
    row, left, top = 20, 170, 28
    height = top + row * max(1, len(labels)) + 10
    span = WIDTH - left - 50
    parts = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        w = span * max(0.0, min(v, high)) / high if high else 0
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label[:26])}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="{BAR_COLOR}">'
            f"<title>{escape(label)}: {v:.3f}</title></rect>"
            f'<text x="{left + w + 4:.1f}" y="{y + 13}" class="muted">{v:.2f}</text>'
        )
    return _frame(title, height, "".join(parts))


def _frame(title: str, height: int, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f'<text x="4" y="16" class="title">{escape(title)}</text>{body}</svg>'
    )

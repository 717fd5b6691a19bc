"""Inline SVG for the optimize report: objective history and parameter importance."""

from __future__ import annotations

import html
import math

from kinetic.backtest.plots import PAD, W

H = 240


def history_svg(points: list[tuple[int, float, bool]]) -> str:
    """Each finished trial's value (dots; grey when infeasible) and the best so far (line).

    ``points`` are (trial number, value, feasible) in trial order.
    """
    pts = [(n, v, f) for n, v, f in points if math.isfinite(v)]
    if not pts:
        return "<p>no finished trials</p>"
    xs = [float(n) for n, _, _ in pts]
    ys = [v for _, v, _ in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

    def px(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD)

    def py(y: float) -> float:
        return H - PAD - (y - y0) / (y1 - y0) * (H - 2 * PAD)

    dots = "".join(
        f"<circle cx='{px(n):.1f}' cy='{py(v):.1f}' r='2.5' fill='{'#1f77b4' if f else '#bbb'}'/>"
        for n, v, f in pts
    )
    best, line = -math.inf, []
    for n, v, f in pts:
        if f and v > best:
            best = v
        if best > -math.inf:
            line.append(f"{px(n):.1f},{py(best):.1f}")
    path = f"<polyline fill='none' stroke='#d62728' stroke-width='1.4' points='{' '.join(line)}'/>"
    axes = (f"<text x='{PAD}' y='{H - 12}' font-size='11'>trial {int(x0)}</text>"
            f"<text x='{W - PAD}' y='{H - 12}' font-size='11' text-anchor='end'>trial {int(x1)}"
            f"</text><text x='4' y='{PAD - 8}' font-size='11'>{y1:,.3f}</text>"
            f"<text x='4' y='{H - PAD + 14}' font-size='11'>{y0:,.3f}</text>")  # fmt: skip
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}'>{axes}{dots}"
            f"{path}</svg><p>● trial value (grey: infeasible), red: best so far</p>")  # fmt: skip


def importance_svg(importance: dict[str, float]) -> str:
    """Horizontal bars, one per parameter (PED-ANOVA importance, sums to 1)."""
    if not importance:
        return "<p>not enough finished trials to estimate importance</p>"
    row, label = 22, 180
    height = row * len(importance) + 10
    top = max(importance.values()) or 1.0
    bars = []
    for i, (name, value) in enumerate(sorted(importance.items(), key=lambda kv: -kv[1])):
        y = 5 + i * row
        width = (W - label - 80) * value / top
        bars.append(f"<text x='{label - 6}' y='{y + 14}' font-size='12' text-anchor='end'>"
                    f"{html.escape(name)}</text><rect x='{label}' y='{y + 3}' width='{width:.1f}'"
                    f" height='{row - 8}' fill='#2ca02c'/><text x='{label + width + 6:.1f}' "
                    f"y='{y + 14}' font-size='12'>{value:.3f}</text>")  # fmt: skip
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{height}'>"
            f"{''.join(bars)}</svg>")  # fmt: skip

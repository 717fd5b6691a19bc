"""Inline SVG plots and the monthly-returns table for the HTML report (no JS, no CSS files)."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import numpy as np

from kinetic.domain import ClosedTrade, PositionSide
from kinetic.marketdata.files import CandleArrays

W, H, PAD = 1000, 260, 40
MAX_POINTS = 1500


def drawdown_pct(equity: np.ndarray) -> np.ndarray:
    """Return the drawdown from the running peak, in percent (<= 0)."""
    if equity.size == 0:
        return equity
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(peak > 0, (equity / peak - 1.0) * 100.0, 0.0))


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= MAX_POINTS:
        return x, y
    idx = np.linspace(0, x.size - 1, MAX_POINTS).astype(np.int64)
    return x[idx], y[idx]


class _Frame:
    """Map data coordinates onto the SVG canvas."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x0, self.x1 = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
        self.y0, self.y1 = (float(y.min()), float(y.max())) if y.size else (0.0, 1.0)
        if self.x1 == self.x0:
            self.x1 = self.x0 + 1
        if self.y1 == self.y0:
            self.y1 = self.y0 + 1

    def px(self, x: float) -> float:
        return PAD + (x - self.x0) / (self.x1 - self.x0) * (W - 2 * PAD)

    def py(self, y: float) -> float:
        return H - PAD - (y - self.y0) / (self.y1 - self.y0) * (H - 2 * PAD)

    def axes(self) -> str:
        lo, hi = _day(self.x0), _day(self.x1)
        return (f"<text x='{PAD}' y='{H - 12}' font-size='11'>{lo}</text>"
                f"<text x='{W - PAD}' y='{H - 12}' font-size='11' text-anchor='end'>{hi}</text>"
                f"<text x='4' y='{PAD - 8}' font-size='11'>{self.y1:,.2f}</text>"
                f"<text x='4' y='{H - PAD + 14}' font-size='11'>{self.y0:,.2f}</text>")  # fmt: skip


def _day(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def _path(frame: _Frame, x: np.ndarray, y: np.ndarray, colour: str) -> str:
    pts = " ".join(f"{frame.px(a):.1f},{frame.py(b):.1f}" for a, b in zip(x, y, strict=True))
    return f"<polyline fill='none' stroke='{colour}' stroke-width='1.2' points='{pts}'/>"


def line_svg(ts_ms: np.ndarray, values: np.ndarray, colour: str) -> str:
    """Return an SVG line chart of ``values`` over time."""
    x, y = _thin(ts_ms.astype(np.float64), values.astype(np.float64))
    frame = _Frame(x, y)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}'>"
            f"{frame.axes()}{_path(frame, x, y, colour)}</svg>")  # fmt: skip


def trades_svg(series: CandleArrays, trades: list[ClosedTrade], limit: int = 400) -> str:
    """Return the close price with entry (triangle) and exit (circle) markers."""
    x, y = _thin(series.open_time_ms.astype(np.float64), series.close)
    frame = _Frame(x, y)
    marks = []
    for t in [t for t in trades if t.symbol == series.symbol][:limit]:
        colour = "#2ca02c" if t.side is PositionSide.LONG else "#d62728"
        ex, ey = frame.px(t.opened_ms), frame.py(float(t.entry_price))
        marks.append(f"<path d='M{ex:.1f},{ey - 5:.1f} l4,8 h-8 z' fill='{colour}'/>")
        cx, cy = frame.px(t.closed_ms), frame.py(float(t.exit_price))
        marks.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3' fill='none' stroke='{colour}'/>")
    note = f" (first {limit} trades marked)" if len(trades) > limit else ""
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}'>"
            f"{frame.axes()}{_path(frame, x, y, '#555')}{''.join(marks)}</svg>"
            f"<p>▲ entry, ○ exit; green long, red short{html.escape(note)}</p>")  # fmt: skip


def monthly_returns(ts_ms: np.ndarray, equity: np.ndarray) -> dict[str, float]:
    """Return the return of each calendar month (UTC), keyed ``YYYY-MM``."""
    if equity.size == 0:
        return {}
    months = ts_ms.astype("datetime64[ms]").astype("datetime64[M]")
    last = np.nonzero(np.append(months[1:] != months[:-1], True))[0]
    ends = equity[last]
    starts = np.concatenate(([equity[0]], ends[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = np.where(starts != 0, (ends / starts - 1.0) * 100.0, 0.0)
    return {str(months[i]): float(r) for i, r in zip(last.tolist(), rets.tolist(), strict=True)}


def monthly_table(ts_ms: np.ndarray, equity: np.ndarray) -> str:
    """Return the monthly returns as a colour-coded HTML table."""
    cells = []
    for month, r in monthly_returns(ts_ms, equity).items():
        colour = "#d9f2d9" if r >= 0 else "#f8d7d7"
        cells.append(f"<tr><th>{month}</th><td style='background:{colour}'>{r:+.2f}</td></tr>")
    return "<table>" + "".join(cells) + "</table>"

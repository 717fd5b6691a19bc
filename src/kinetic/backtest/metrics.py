"""Performance metrics from an equity curve and closed trades (pure functions).

Definitions (documented in docs/backtesting.md):

* returns for Sharpe/Sortino are daily: the equity at the last step of each UTC day,
  annualised with sqrt(365) (crypto trades every day); risk-free rate 0.
* Sortino's downside deviation is sqrt(mean(min(r, 0)^2)) over all days.
* CAGR uses calendar time from the first to the last step; Calmar = CAGR / max drawdown.
* Max drawdown: the largest fall from a running peak, in percent; its duration runs from
  that peak to the recovery of the peak value (or to the end of the data if never).
* Trade statistics use each closed trade's net PnL (after entry and exit fees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from kinetic.domain import ClosedTrade

DAY_MS = 86_400_000
YEAR_MS = 365.25 * DAY_MS


@dataclass(frozen=True, slots=True)
class Drawdown:
    max_pct: float
    peak_ms: int
    trough_ms: int
    end_ms: int  # recovery time, or the last step when never recovered

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.peak_ms) / 1000.0


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    """Return the drawdown (percent, <= 0) at every step."""
    if equity.size == 0:
        return equity
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity / peak - 1.0, 0.0)
    return dd * 100.0


def max_drawdown(ts_ms: np.ndarray, equity: np.ndarray) -> Drawdown:
    """Return the deepest drawdown with its peak, trough and recovery times."""
    if equity.size == 0:
        return Drawdown(0.0, 0, 0, 0)
    dd = drawdown_series(equity)
    trough = int(np.argmin(dd))
    peak = int(np.argmax(equity[: trough + 1]))
    after = np.nonzero(equity[trough:] >= equity[peak])[0]
    end = trough + int(after[0]) if after.size else equity.size - 1
    return Drawdown(float(-dd[trough]), int(ts_ms[peak]), int(ts_ms[trough]), int(ts_ms[end]))


def daily_returns(ts_ms: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """Return the day-over-day returns of the equity at each UTC day's last step."""
    if equity.size < 2:
        return np.zeros(0)
    day = ts_ms // DAY_MS
    last = np.nonzero(np.append(day[1:] != day[:-1], True))[0]
    closes = np.concatenate(([equity[0]], equity[last]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(closes[:-1] > 0, closes[1:] / closes[:-1] - 1.0, 0.0)
    return np.asarray(r, dtype=np.float64)


def _ratio(num: float, den: float) -> float | None:
    if den == 0 or not math.isfinite(num) or not math.isfinite(den):
        return None
    return num / den


def curve_metrics(ts_ms: np.ndarray, equity: np.ndarray, start: float) -> dict[str, Any]:
    """Return the equity-curve metrics."""
    final = float(equity[-1]) if equity.size else start
    total = (final / start - 1.0) * 100.0 if start else 0.0
    years = (float(ts_ms[-1] - ts_ms[0]) / YEAR_MS) if equity.size > 1 else 0.0
    cagr = ((final / start) ** (1.0 / years) - 1.0) * 100.0 if years > 0 and final > 0 else None
    r = daily_returns(ts_ms, equity)
    mean, sd = (float(r.mean()), float(r.std(ddof=1))) if r.size > 1 else (0.0, 0.0)
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if r.size else 0.0
    dd = max_drawdown(ts_ms, equity)
    sharpe = _ratio(mean * math.sqrt(365), sd)
    sortino = _ratio(mean * math.sqrt(365), downside)
    return {
        "final_equity": final,
        "total_return_pct": total,
        "cagr_pct": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": _ratio(cagr, dd.max_pct) if cagr is not None else None,
        "max_drawdown_pct": dd.max_pct,
        "max_drawdown_duration_s": dd.duration_s,
        "max_drawdown_peak_ms": dd.peak_ms,
        "max_drawdown_trough_ms": dd.trough_ms,
    }


def trade_metrics(trades: list[ClosedTrade]) -> dict[str, Any]:
    """Return the trade statistics (PnL net of fees)."""
    pnl = [float(t.pnl) for t in trades]
    rets = [_trade_return_pct(t) for t in trades]
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p <= 0]
    gross_win, gross_loss = sum(wins), -sum(losses)
    n = len(pnl)
    win_rate = len(wins) / n if n else 0.0
    avg_win = gross_win / len(wins) if wins else 0.0
    avg_loss = gross_loss / len(losses) if losses else 0.0
    return {
        "trades": n,
        "win_rate_pct": win_rate * 100.0,
        "profit_factor": _ratio(gross_win, gross_loss),
        "expectancy_usd": win_rate * avg_win - (1.0 - win_rate) * avg_loss,
        "avg_trade_usd": sum(pnl) / n if n else 0.0,
        "avg_trade_pct": sum(rets) / n if n else 0.0,
        "best_trade_pct": max(rets) if rets else None,
        "worst_trade_pct": min(rets) if rets else None,
        "avg_holding_s": sum((t.closed_ms - t.opened_ms) / 1000 for t in trades) / n if n else 0.0,
    }


def _trade_return_pct(t: ClosedTrade) -> float:
    cost = t.entry_price * t.quantity / Decimal(t.leverage)
    return float(t.pnl / cost * 100) if cost else 0.0


def exposure_pct(exposed: np.ndarray) -> float:
    """Share of steps that ended with at least one open position, in percent."""
    return float(exposed.mean() * 100.0) if exposed.size else 0.0

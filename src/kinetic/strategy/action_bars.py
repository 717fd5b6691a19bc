"""Vectorised "could this bar act?" masks for the indicator strategies (backtests).

A strategy that implements ``ActionBars`` tells a backtest driver, for every bar at
once, whether ``on_candle`` on it *could* return LONG and whether it could return SHORT.
The answer may be a superset (a bar marked True may still return FLAT), never a subset.

The masks come from the vectorised indicators (``indicators.vectorised``), which agree
with the incremental ones the strategy steps to within a few units in the last place;
every comparison is therefore made "maybe": true unless the margin (``PRICE_TOL``
relative on prices, ``OSC_TOL`` absolute on 0..100 oscillators, one point on a
confidence) rules it out. Bars before the warm-up (and the first bars after it) are
always marked: they are stepped, so a fast-forward starts from a warm state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kinetic.strategy.features import FeatureParams
from kinetic.strategy.indicators import adx, bollinger, ema, macd, rsi

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays
    from kinetic.strategy.indicators._recurrence import F64

PRICE_TOL = 1e-9  # relative, on prices and price differences
OSC_TOL = 1e-6  # absolute, on RSI / ADX / DI (0..100)
CONF_TOL = 1.0  # points of confidence (rounding and summation order)
Masks = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class ApproxFeatures:
    """The features of every bar, from the vectorised indicators (nan before warm-up)."""

    close: F64
    ema_fast: F64
    ema_slow: F64
    rsi: F64
    adx: F64
    plus_di: F64
    minus_di: F64
    macd_hist: F64
    bb_upper: F64
    bb_lower: F64
    tol: F64  # the price tolerance per bar
    cold: np.ndarray  # bool: always marked (warm-up and the bar after it)


def approx_features(p: FeatureParams, arrays: CandleArrays) -> ApproxFeatures | None:
    """The vectorised features of ``arrays``; None when the data is not all finite."""
    close = np.asarray(arrays.close, dtype=np.float64)
    high = np.asarray(arrays.high, dtype=np.float64)
    low = np.asarray(arrays.low, dtype=np.float64)
    if not (np.isfinite(close).all() and np.isfinite(high).all() and np.isfinite(low).all()):
        return None
    n = len(close)
    cold = np.zeros(n, np.bool_)
    cold[: p.warmup + 1] = True
    d = adx(high, low, close, p.adx_period)
    bb = bollinger(close, p.bb_period, p.bb_std)
    with np.errstate(invalid="ignore"):
        tol = PRICE_TOL * np.maximum(np.abs(close), np.abs(high))
    return ApproxFeatures(
        close, ema(close, p.fast), ema(close, p.slow), rsi(close, p.rsi_period), d.adx,
        d.plus_di, d.minus_di, macd(close).hist.copy(), bb.upper, bb.lower, tol, cold,
    )  # fmt: skip


def maybe_gt(a: F64, b: F64 | float, tol: F64 | float) -> np.ndarray:
    """``a > b`` could hold for the exact values (a nan compares as possible)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(~(a <= b - tol))


def maybe_lt(a: F64, b: F64 | float, tol: F64 | float) -> np.ndarray:
    """``a < b`` could hold for the exact values (a nan compares as possible)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(~(a >= b + tol))


def clamp01(x: F64) -> F64:
    """Clamp into ``[0, 1]``; nan counts as 1 (the most a component can give)."""
    return np.asarray(np.clip(np.nan_to_num(x, nan=1.0), 0.0, 1.0))


def finish(f: ApproxFeatures, may_long: np.ndarray, may_short: np.ndarray) -> Masks:
    """Mark the cold bars in both masks."""
    return may_long | f.cold, may_short | f.cold


def every_bar(arrays: CandleArrays) -> Masks:
    """Both masks all True (nothing can be skipped)."""
    n = len(arrays)
    return np.ones(n, np.bool_), np.ones(n, np.bool_)

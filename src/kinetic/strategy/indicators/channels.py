"""Vectorised range, volume and channel indicators matching the ``ta`` library.

* Stochastic: ``%K = 100 * (close - LL) / (HH - LL)`` over ``n`` bars (LL = lowest low,
  HH = highest high), valid from ``n - 1``; ``%D`` = SMA(``smooth``) of %K, valid from
  ``n + smooth - 2``. Where ``HH == LL`` (``ta``: nan) %K is 50.
* OBV: running sum of ``+volume`` (close >= previous close, and the first bar) or
  ``-volume`` (close below the previous close), as ``ta``.
* VWAP: ``ta``'s rolling form: sum(typical price * volume) / sum(volume) over ``n``
  bars, valid from ``n - 1``; nan where the window's volume is 0.
* Donchian: highest high / lowest low over ``n`` bars and their midpoint (offset 0).
* Keltner (``ta`` ``original_version=False``): middle = EMA(close, ``n``), bands =
  middle +/- ``multiplier`` * ATR(``n_atr``) (Wilder ATR as ``atr``); all three valid
  from ``max(n, n_atr) - 1``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kinetic.strategy.indicators._recurrence import F64
from kinetic.strategy.indicators.vectorised import atr, ema


class StochasticResult(NamedTuple):
    """%K and %D series."""

    k: F64
    d: F64


class ChannelResult(NamedTuple):
    """Upper, middle and lower band series."""

    upper: F64
    middle: F64
    lower: F64


def _f64(x: object) -> F64:
    return np.ascontiguousarray(x, dtype=np.float64)


def _check(*windows: int) -> None:
    for n in windows:
        if n < 1:
            raise ValueError(f"window must be >= 1, got {n}")


def _rolling(x: F64, n: int, how: str) -> F64:
    """Return the rolling ``max``/``min``/``sum`` over ``n`` values, nan before ``n - 1``."""
    out = np.full_like(x, np.nan)
    if len(x) >= n:
        windows = sliding_window_view(x, n)
        out[n - 1 :] = getattr(windows, how)(axis=-1)
    return out


def stochastic(high: F64, low: F64, close: F64, n: int = 14, smooth: int = 3) -> StochasticResult:
    """Return the stochastic oscillator %K and its SMA %D."""
    _check(n, smooth)
    h, lo, c = _f64(high), _f64(low), _f64(close)
    hh, ll = _rolling(h, n, "max"), _rolling(lo, n, "min")
    rng = hh - ll
    k = np.full_like(c, 50.0)
    np.divide(c - ll, rng, out=k, where=rng != 0)
    k[rng != 0] *= 100.0
    k[np.isnan(rng)] = np.nan
    d = np.full_like(k, np.nan)
    start = n - 1
    if len(k) > start:
        d[start:] = _rolling(k[start:], smooth, "mean")
    return StochasticResult(k, d)


def obv(close: F64, volume: F64) -> F64:
    """Return on-balance volume (``ta`` convention: an unchanged close adds the volume)."""
    c, v = _f64(close), _f64(volume)
    signed = v.copy()
    if len(c) > 1:
        np.negative(v[1:], out=signed[1:], where=c[1:] < c[:-1])
    return np.cumsum(signed)


def vwap(high: F64, low: F64, close: F64, volume: F64, n: int = 14) -> F64:
    """Return the rolling volume-weighted average of the typical price over ``n`` bars."""
    _check(n)
    h, lo, c, v = _f64(high), _f64(low), _f64(close), _f64(volume)
    typical = (h + lo + c) / 3.0
    pv = _rolling(typical * v, n, "sum")
    vol = _rolling(v, n, "sum")
    out = np.full_like(pv, np.nan)
    np.divide(pv, vol, out=out, where=vol != 0)
    return out


def donchian(high: F64, low: F64, n: int = 20) -> ChannelResult:
    """Return the Donchian channel: highest high, midpoint and lowest low over ``n`` bars."""
    _check(n)
    upper, lower = _rolling(_f64(high), n, "max"), _rolling(_f64(low), n, "min")
    return ChannelResult(upper, (upper - lower) / 2.0 + lower, lower)


def keltner(
    high: F64, low: F64, close: F64, n: int = 20, n_atr: int = 10, multiplier: float = 2.0
) -> ChannelResult:
    """Return the Keltner channel around EMA(close) with ATR bands (``ta`` modern form)."""
    _check(n, n_atr)
    middle = ema(close, n)
    middle[: max(n, n_atr) - 1] = np.nan  # all three bands warm together
    width = multiplier * atr(high, low, close, n_atr)
    return ChannelResult(middle + width, middle, middle - width)

"""Vectorised indicators over whole float64 arrays, numerically matching the ``ta`` library.

Every function returns arrays as long as its input, with ``nan`` before the warm-up
index (where ``ta`` returns ``nan`` or ``0``). After warm-up the values equal ``ta``'s:

* EMA: ``ewm(span=n, adjust=False)`` started at ``x[0]``; valid from ``n - 1``.
* RSI: Wilder ``ewm(alpha=1/n, adjust=False)`` of gains/losses, the first change taken
  as 0; valid from ``n - 1``; 100 when the average loss is 0.
* ATR: true range (first bar ``high - low``), seeded with the mean of the first ``n``
  true ranges at ``n - 1``, then Wilder smoothing.
* ADX: Wilder *sums* of TR, +DM, -DM seeded with the sum of bars ``1..n`` at index
  ``n``; +DI/-DI valid from ``n``; DX averaged over ``n..2n-1`` seeds ADX at ``2n - 1``.
* MACD: EMA(fast) - EMA(slow), signal EMA of the line started at ``slow - 1``.
* Bollinger: rolling mean and population standard deviation (ddof 0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kinetic.strategy.indicators._recurrence import F64, linear_recurrence


class ADXResult(NamedTuple):
    adx: F64
    plus_di: F64
    minus_di: F64


class MACDResult(NamedTuple):
    line: F64
    signal: F64
    hist: F64


class BollingerResult(NamedTuple):
    mid: F64
    upper: F64
    lower: F64


def _as_f64(x: object) -> F64:
    return np.ascontiguousarray(x, dtype=np.float64)


def _check_window(n: int) -> None:
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")


def _ratio(num: F64, den: F64) -> F64:
    """Return ``100 * num / den`` with 0 where ``den`` is 0 (``ta``'s convention)."""
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den != 0)
    out *= 100.0
    return out


def sma(close: F64, n: int) -> F64:
    """Return the simple moving average over ``n`` bars."""
    _check_window(n)
    x = _as_f64(close)
    out = np.full_like(x, np.nan)
    if len(x) >= n:
        out[n - 1 :] = sliding_window_view(x, n).mean(axis=-1)
    return out


def _ema_raw(x: F64, n: int) -> F64:
    alpha = 2.0 / (n + 1.0)
    if len(x) == 0:
        return x.copy()
    return linear_recurrence(x, 1.0 - alpha, x[0], gain=alpha)


def ema(close: F64, n: int) -> F64:
    """Return the exponential moving average (``span=n``, ``adjust=False``)."""
    _check_window(n)
    out = _ema_raw(_as_f64(close), n)
    out[: n - 1] = np.nan
    return out


def rsi(close: F64, n: int = 14) -> F64:
    """Return Wilder's relative strength index."""
    _check_window(n)
    x = _as_f64(close)
    if len(x) == 0:
        return x.copy()
    moves = np.empty((2, len(x)))
    moves[0, 0] = moves[1, 0] = 0.0
    np.subtract(x[1:], x[:-1], out=moves[0, 1:])
    np.negative(moves[0, 1:], out=moves[1, 1:])
    np.maximum(moves, 0.0, out=moves)
    avg = linear_recurrence(moves, 1.0 - 1.0 / n, 0.0, gain=1.0 / n)
    gain_, loss = avg[0], avg[1]
    # 100 - 100 / (1 + g/l) == 100 * g / (g + l); 100 where the average loss is 0
    out = np.full_like(x, 100.0)
    total = gain_ + loss
    np.divide(gain_, total, out=out, where=loss != 0)
    out[loss != 0] *= 100.0
    out[: n - 1] = np.nan
    return out


def true_range(high: F64, low: F64, close: F64) -> F64:
    """Return the true range; the first bar has no previous close and uses ``high - low``."""
    h, lo, c = _as_f64(high), _as_f64(low), _as_f64(close)
    tr = h - lo
    if len(tr) > 1:
        prev = c[:-1]
        np.maximum(tr[1:], np.abs(h[1:] - prev), out=tr[1:])
        np.maximum(tr[1:], np.abs(lo[1:] - prev), out=tr[1:])
    return tr


def atr(high: F64, low: F64, close: F64, n: int = 14) -> F64:
    """Return Wilder's average true range, seeded with the SMA of the first ``n`` ranges."""
    _check_window(n)
    tr = true_range(high, low, close)
    out = np.full_like(tr, np.nan)
    if len(tr) < n:
        return out
    seed = tr[:n].mean()
    out[n - 1] = seed
    out[n:] = linear_recurrence(tr[n:], (n - 1.0) / n, seed, gain=1.0 / n)
    return out


def _directional_moves(high: F64, low: F64, close: F64) -> F64:
    """Return rows TR, +DM, -DM for bars ``1..`` (bar 0 has no predecessor)."""
    h, lo, c = _as_f64(high), _as_f64(low), _as_f64(close)
    rows = np.empty((3, len(h) - 1))
    np.subtract(np.maximum(h[1:], c[:-1]), np.minimum(lo[1:], c[:-1]), out=rows[0])
    up = h[1:] - h[:-1]
    down = lo[:-1] - lo[1:]
    np.multiply(up, (up > down) & (up > 0), out=rows[1])
    np.multiply(down, (down > up) & (down > 0), out=rows[2])
    return rows


def adx(high: F64, low: F64, close: F64, n: int = 14) -> ADXResult:
    """Return ADX, +DI and -DI (``ta.trend.ADXIndicator`` semantics)."""
    _check_window(n)
    size = len(high)
    out = np.full((3, size), np.nan)
    if size <= n:
        return ADXResult(out[0], out[1], out[2])
    moves = _directional_moves(high, low, close)
    smooth = np.empty((3, size - n))
    smooth[:, 0] = moves[:, :n].sum(axis=1)
    smooth[:, 1:] = linear_recurrence(moves[:, n:], 1.0 - 1.0 / n, smooth[:, 0])
    pdi = _ratio(smooth[1], smooth[0])
    mdi = _ratio(smooth[2], smooth[0])
    dx = _ratio(np.abs(pdi - mdi), pdi + mdi)
    out[1, n:] = pdi
    out[2, n:] = mdi
    if size >= 2 * n:
        seed = dx[:n].mean()
        out[0, 2 * n - 1] = seed
        out[0, 2 * n :] = linear_recurrence(dx[n:], (n - 1.0) / n, seed, gain=1.0 / n)
    return ADXResult(out[0], out[1], out[2])


def macd(close: F64, fast: int = 12, slow: int = 26, signal: int = 9) -> MACDResult:
    """Return the MACD line, its signal line and the histogram."""
    for w in (fast, slow, signal):
        _check_window(w)
    x = _as_f64(close)
    line = _ema_raw(x, fast) - _ema_raw(x, slow)
    sig = np.full_like(x, np.nan)
    start = slow - 1
    if len(x) > start:
        sig[start:] = _ema_raw(line[start:], signal)
    line[: max(fast, slow) - 1] = np.nan
    sig[: start + signal - 1] = np.nan
    return MACDResult(line, sig, line - sig)


def bollinger(close: F64, n: int = 20, k: float = 2.0) -> BollingerResult:
    """Return the middle, upper and lower Bollinger bands (population std)."""
    _check_window(n)
    x = _as_f64(close)
    mid = np.full_like(x, np.nan)
    std = np.full_like(x, np.nan)
    if len(x) >= n:
        windows = sliding_window_view(x, n)
        mid[n - 1 :] = windows.mean(axis=-1)
        std[n - 1 :] = windows.std(axis=-1)
    return BollingerResult(mid, mid + k * std, mid - k * std)

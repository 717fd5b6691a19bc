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

Speed: the long recurrences run through ``recur_into`` (BLAS, see ``_recurrence``) and
every pipeline works on chunks of ``CHUNK`` bars with a small reused workspace, so the
only large arrays a call touches are its inputs and outputs (fresh large temporaries
cost page faults that dominated the arithmetic).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kinetic.strategy.indicators._recurrence import F64, recur_into


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


CHUNK = 65_536
_TINY = 5e-324  # smallest positive float64


def _as_f64(x: object) -> F64:
    return np.ascontiguousarray(x, dtype=np.float64)


def _check_window(n: int) -> None:
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")


def _spans(start: int, stop: int) -> range:
    return range(start, stop, CHUNK)


def _pct_into(num: F64, den: F64, out: F64) -> None:
    """Write ``100 * num / den`` into ``out`` (may be ``num``, not ``den``); 0 where ``den`` is 0.

    Denominators here are sums of non-negative terms that include the numerator, so a
    zero denominator comes with a zero numerator: dividing by the smallest subnormal
    instead gives exactly 0 (``ta``'s convention) and leaves every positive one unchanged.
    """
    np.maximum(den, _TINY, out=den)
    np.divide(num, den, out=out)
    out *= 100.0


def sma(close: F64, n: int) -> F64:
    """Return the simple moving average over ``n`` bars."""
    _check_window(n)
    x = _as_f64(close)
    out = np.full_like(x, np.nan)
    if len(x) >= n:
        out[n - 1 :] = sliding_window_view(x, n).mean(axis=-1)
    return out


def _ema_raw(x: F64, n: int) -> F64:
    out = np.empty_like(x)
    if len(x):
        alpha = 2.0 / (n + 1.0)
        recur_into(x, 1.0 - alpha, float(x[0]), alpha, out)
    return out


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
    out = np.empty_like(x)
    ws = np.empty((4, min(len(x), CHUNK)))
    keep, gain_, loss = 1.0 - 1.0 / n, 0.0, 0.0
    for s in _spans(0, len(x)):
        e = min(s + CHUNK, len(x))
        up, down, g, lo = ws[:, : e - s]
        if s == 0:
            up[0] = 0.0
            np.subtract(x[1:e], x[: e - 1], out=up[1:])
        else:
            np.subtract(x[s:e], x[s - 1 : e - 1], out=up)
        np.negative(up, out=down)
        np.maximum(up, 0.0, out=up)
        np.maximum(down, 0.0, out=down)
        gain_ = recur_into(up, keep, gain_, 1.0 / n, g)
        loss = recur_into(down, keep, loss, 1.0 / n, lo)
        # 100 - 100 / (1 + g/l) == 100 * g / (g + l); 100 where the average loss is 0
        np.add(g, lo, out=up)
        with np.errstate(invalid="ignore"):
            np.divide(g, up, out=out[s:e])
        out[s:e] *= 100.0
        np.copyto(out[s:e], 100.0, where=up == 0.0)
    out[: n - 1] = np.nan
    return out


def _true_range_into(h: F64, lo: F64, prev_close: F64, out: F64) -> None:
    """Write ``max(h, prev) - min(lo, prev)`` (the true range) into ``out``."""
    np.maximum(h, prev_close, out=out)
    np.subtract(out, np.minimum(lo, prev_close), out=out)


def true_range(high: F64, low: F64, close: F64) -> F64:
    """Return the true range; the first bar has no previous close and uses ``high - low``."""
    h, lo, c = _as_f64(high), _as_f64(low), _as_f64(close)
    tr = h - lo
    if len(tr) > 1:
        _true_range_into(h[1:], lo[1:], c[:-1], tr[1:])
    return tr


def atr(high: F64, low: F64, close: F64, n: int = 14) -> F64:
    """Return Wilder's average true range, seeded with the SMA of the first ``n`` ranges."""
    _check_window(n)
    h, lo, c = _as_f64(high), _as_f64(low), _as_f64(close)
    out = np.full_like(h, np.nan)
    size = len(h)
    if size < n:
        return out
    y = float(true_range(h[:n], lo[:n], c[:n]).mean())
    out[n - 1] = y
    ws = np.empty(min(size, CHUNK))
    for s in _spans(n, size):
        e = min(s + CHUNK, size)
        tr = ws[: e - s]
        _true_range_into(h[s:e], lo[s:e], c[s - 1 : e - 1], tr)
        y = recur_into(tr, (n - 1.0) / n, y, 1.0 / n, out[s:e])
    return out


def _moves_into(h: F64, lo: F64, c: F64, s: int, e: int, out: F64) -> None:
    """Write rows TR, +DM, -DM of bars ``s..e-1`` (``s >= 1``) into ``out``."""
    _true_range_into(h[s:e], lo[s:e], c[s - 1 : e - 1], out[0])
    up, down = out[1], out[2]
    np.subtract(h[s:e], h[s - 1 : e - 1], out=up)
    np.subtract(lo[s - 1 : e - 1], lo[s:e], out=down)
    plus = (up > down) & (up > 0)
    minus = (down > up) & (down > 0)
    np.multiply(up, plus, out=up)
    np.multiply(down, minus, out=down)


def _write_di(smooth: F64, out: F64, s: int, e: int) -> None:
    """Write +DI, -DI into rows 1, 2 and DX into row 0 of ``out[:, s:e]``; clobber ``smooth``."""
    pdi, mdi, dx = out[1, s:e], out[2, s:e], out[0, s:e]
    _pct_into(smooth[1], smooth[0], pdi)
    _pct_into(smooth[2], smooth[0], mdi)
    np.subtract(pdi, mdi, out=dx)
    np.abs(dx, out=dx)
    np.add(pdi, mdi, out=smooth[0])
    _pct_into(dx, smooth[0], dx)


def _adx_smooth(h: F64, lo: F64, c: F64, n: int, out: F64) -> None:
    """Fill ``out`` rows 1, 2 with +DI/-DI and row 0 with DX from bar ``n`` on."""
    size = len(h)
    head = np.empty((3, n))
    _moves_into(h, lo, c, 1, n + 1, head)
    state = head.sum(axis=1)  # Wilder sums seeded with bars 1..n, at bar n
    _write_di(state[:, None].copy(), out, n, n + 1)
    ws = np.empty((6, max(1, min(size - n - 1, CHUNK))))
    keep = 1.0 - 1.0 / n
    for s in _spans(n + 1, size):
        e = min(s + CHUNK, size)
        moves, smooth = ws[:3, : e - s], ws[3:, : e - s]
        _moves_into(h, lo, c, s, e, moves)
        for r in range(3):
            state[r] = recur_into(moves[r], keep, float(state[r]), 1.0, smooth[r])
        _write_di(smooth, out, s, e)


def adx(high: F64, low: F64, close: F64, n: int = 14) -> ADXResult:
    """Return ADX, +DI and -DI (``ta.trend.ADXIndicator`` semantics)."""
    _check_window(n)
    h, lo, c = _as_f64(high), _as_f64(low), _as_f64(close)
    size = len(h)
    out = np.full((3, size), np.nan)
    if size <= n:
        return ADXResult(out[0], out[1], out[2])
    _adx_smooth(h, lo, c, n, out)
    dx = out[0]  # DX is smoothed into ADX in place, chunk by chunk
    if size >= 2 * n:
        y = float(dx[n : 2 * n].mean())
        ws = np.empty(min(size, CHUNK))
        for s in _spans(2 * n, size):
            e = min(s + CHUNK, size)
            part = ws[: e - s]
            part[:] = dx[s:e]
            y = recur_into(part, (n - 1.0) / n, y, 1.0 / n, dx[s:e])
        dx[2 * n - 1] = dx[n : 2 * n].mean()
    dx[: min(size, 2 * n - 1)] = np.nan
    return ADXResult(out[0], out[1], out[2])


def macd(close: F64, fast: int = 12, slow: int = 26, signal: int = 9) -> MACDResult:
    """Return the MACD line, its signal line and the histogram."""
    for w in (fast, slow, signal):
        _check_window(w)
    x = _as_f64(close)
    size = len(x)
    out = np.full((3, size), np.nan)
    line, sig, hist = out
    af, aslow = 2.0 / (fast + 1.0), 2.0 / (slow + 1.0)
    ws = np.empty(min(size, CHUNK))
    yf = ys = float(x[0]) if size else 0.0
    for s in _spans(0, size):
        e = min(s + CHUNK, size)
        yf = recur_into(x[s:e], 1.0 - af, yf, af, line[s:e])
        ys = recur_into(x[s:e], 1.0 - aslow, ys, aslow, ws[: e - s])
        line[s:e] -= ws[: e - s]
    start = slow - 1
    if size > start:
        a = 2.0 / (signal + 1.0)
        recur_into(line[start:], 1.0 - a, float(line[start]), a, sig[start:])
    line[: max(fast, slow) - 1] = np.nan
    sig[: start + signal - 1] = np.nan
    np.subtract(line, sig, out=hist)
    return MACDResult(line, sig, hist)


def bollinger(close: F64, n: int = 20, k: float = 2.0) -> BollingerResult:
    """Return the middle, upper and lower Bollinger bands (population std)."""
    _check_window(n)
    x = _as_f64(close)
    mid = np.full_like(x, np.nan)
    std = np.full_like(x, np.nan)
    if len(x) >= n:
        windows = sliding_window_view(x, n)
        # by blocks of windows: ``std`` makes an n-wide temporary per window (80 MB for
        # 500k bars of 20); each row is reduced on its own, so the values are the same
        rows = max(1, CHUNK // n)
        for s in range(0, len(windows), rows):
            part = windows[s : s + rows]
            mid[n - 1 + s : n - 1 + s + len(part)] = part.mean(axis=-1)
            std[n - 1 + s : n - 1 + s + len(part)] = part.std(axis=-1)
    return BollingerResult(mid, mid + k * std, mid - k * std)

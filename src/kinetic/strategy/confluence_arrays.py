"""Every bar's ``confluence`` decision at once, exactly (backtests).

``ConfluenceStrategy.on_candle`` weighs seven pieces of evidence per closed candle
(``confluence``'s module docstring) and the ``SignalScorer`` turns them into a side and
a confidence. Here the same numbers are computed for a whole series, so a backtest knows
every bar's decision before it starts: the exact action masks, and a stepped bar only
looks its decision up (``confluence._Precomputed``).

Exactness, not approximation: each value is produced by the same IEEE operations in the
same order as the per-bar path, so the decisions are the per-bar ones bit for bit
(tests/unit/strategy/test_confluence_arrays.py checks it against ``on_candle``):

* the indicators: a fresh ``FeatureState`` steps the warm-up bars, then its batch
  ``feed(track=True)`` gives every later bar's values (the states' own recurrences);
* the stochastic: rolling extremes are exact (max/min), %K is elementwise, and %D
  replays ``RollingSum``'s running sum (subtract the oldest, add the newest, ``fsum``
  every ``smooth`` updates, 0 when the window is all zeros) in its order;
* candlestick patterns: elementwise comparisons of the candles' floats;
* swing levels: ``SwingDetector``'s fractal test on windows, then for every bar the
  nearest of the last ``keep`` confirmed swing lows at or below (highs at or above) the
  close, as ``SwingLevels.around``;
* the scorer: each side's points summed in the evidence order (adding 0.0 for a missing
  piece changes nothing), the tie, ``round`` (half to even, as ``np.rint``) and the
  clamps.

Data the per-bar path could treat differently (a non-finite or huge price: Python's
``max`` and numpy's ``maximum`` differ on nan; a price not above 0: signed zeros among the
swing levels; open times not increasing: ``update`` raises) is not computed here
(``columns`` returns None) and the strategy falls back to stepping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kinetic.strategy.features import FeatureParams, FeatureState
from kinetic.strategy.patterns import DOJI_BODY_SHARE
from kinetic.strategy.replay import bar_candles
from kinetic.strategy.scoring import DOJI_AT_LEVEL, OPPOSING_COST

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays
    from kinetic.strategy.indicators.incremental import F64

STOCH_N, STOCH_SMOOTH = 14, 3  # ConfluenceStrategy's StochasticState(14, 3)
SWING_N, SWING_KEEP = 3, 10  # its SwingLevels(3) (keep=10)
LIMIT = 1e100  # |price| above this: no overflow to inf anywhere below, or step instead
_ROWS = 16_384  # bars per block of temporaries (a few MB each)
_FEED_ROWS = 65_536  # bars per feed: long enough for the recurrences' columns (_affine)


@dataclass(frozen=True, slots=True)
class Columns:
    """Per bar, the values ``on_candle`` computes (nan: none; indicators nan while cold)."""

    warm: np.ndarray  # bool: the features are defined (``FeatureState.update`` not None)
    spread: F64  # EMA fast vs slow in % (``_indicators``' spread; 0 where the slow one is)
    rsi: F64
    atr: F64
    adx: F64
    macd: np.ndarray  # int8: the MACD histogram's sign
    stoch_k: F64  # nan while the stochastic is not warm
    stoch_d: F64
    support: F64  # nearest swing low at or below the close (nan: none)
    resistance: F64  # nearest swing high at or above the close (nan: none)
    engulfing: np.ndarray  # int8: 1 bullish, -1 bearish (bar 0: 0, no previous candle)
    hammer: np.ndarray  # int8: 1 hammer, -1 shooting star
    doji: np.ndarray  # bool


def columns(arrays: CandleArrays, params: FeatureParams) -> Columns | None:
    """The per-bar values of ``arrays`` fed from its first bar; None: step instead."""
    n = len(arrays)
    o, h, lo, c = (np.asarray(x, np.float64) for x in (arrays.open, arrays.high,
                                                         arrays.low, arrays.close))  # fmt: skip
    for x in (o, h, lo, c):  # all positive and below LIMIT: a nan makes max and min nan
        if n and not (float(x.max()) < LIMIT and float(x.min()) > 0.0):
            return None
    if n > 1 and not (np.diff(np.asarray(arrays.open_time_ms, np.int64)) > 0).all():
        return None
    # peak memory: the stochastic first (%D's running sum takes whole-series temporaries),
    # then the indicator feeds (blocks of _FEED_ROWS), then the smaller parts
    k, d = stochastic(h, lo, c, STOCH_N, STOCH_SMOOTH)
    warm = np.zeros(n, np.bool_)
    spread, rsi, atr, adx = (np.full(n, np.nan) for _ in range(4))
    macd = np.zeros(n, np.int8)

    def put(start: int, stop: int, f: Sequence[F64]) -> None:  # ema_fast, ema_slow, rsi, ...
        ema_fast, ema_slow, rsi[start:stop], atr[start:stop], adx[start:stop], hist = f[:6]
        with np.errstate(invalid="ignore", divide="ignore"):  # as _indicators computes it
            spread[start:stop] = np.where(
                ema_slow != 0, (ema_fast - ema_slow) / ema_slow * 100.0, 0.0
            )
        macd[start:stop] = _sign(hist)

    head = min(n, params.warmup + 1)
    state = FeatureState(params)
    first = head  # the first bar with features
    values: list[list[float]] = []
    for i, candle in enumerate(bar_candles(arrays, 0, head)):
        f = state.update(candle)
        if f is not None:
            first = min(first, i)
            values.append([f.ema_fast, f.ema_slow, f.rsi, f.atr, f.adx, f.macd_hist])
    if values:
        put(first, head, list(np.array(values).T))
    warm[first:] = True  # and from here on: every state is past its seeding
    for start in range(head, n, _FEED_ROWS):  # in blocks: bounded temporaries
        stop = min(start + _FEED_ROWS, n)
        tracked = state.feed(arrays, start, stop, track=True)
        assert tracked is not None
        put(start, stop, tracked)
    tracked = None
    engulfing, hammer, doji = patterns(o, h, lo, c)
    support, resistance = swing_levels(h, lo, c, SWING_N, SWING_KEEP)
    return Columns(warm, spread, rsi, atr, adx, macd, k, d, support, resistance, engulfing,
                   hammer, doji)  # fmt: skip


# what a stepped bar's signal needs beyond five values, as flags (``Lookup.code``)
WARM = 1  # the features are defined
MACD_UP, MACD_DOWN = 2, 4  # the MACD histogram's sign
TURNING = 8  # %K beyond %D toward its side: above it below 20, below it above 80
SUPPORT, RESISTANCE = 16, 32  # the side of the level the evidence names
BULLISH, BEARISH = 64, 128  # engulfing
HAMMER, STAR = 256, 512  # hammer, shooting star
DOJI = 1024
TRENDING, SIDEWAYS = 2048, 4096  # the regime from the ADX (neither: transitional)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a stepped bar's signal needs (``ConfluenceStrategy._looked_up``), per bar:
    the flags and the values its evidence, reason and ``atr`` are made of."""

    code: np.ndarray  # uint16 flags
    spread: F64
    rsi: F64
    atr: F64
    stoch_k: F64  # nan while the stochastic is not warm
    level: F64  # the support or resistance the flags name (SUPPORT, RESISTANCE); else any


def lookup(
    arrays: CandleArrays,
    params: FeatureParams,
    weights: Mapping[str, float],
    scale: float,
    min_confidence: int,
    regime: tuple[float, float] = (25.0, 15.0),
) -> tuple[np.ndarray, Lookup] | None:
    """Every bar's side (``decisions``) and the values kept for stepped bars, the regime
    from ``regime``'s ADX thresholds (``RegimeDetector``'s trending, sideways); None: the
    data is not taken (``columns``)."""  # fmt: skip
    cols = columns(arrays, params)
    if cols is None:
        return None
    close = np.asarray(arrays.close, np.float64)
    side, _, level_side = _decisions(cols, close, weights, scale, min_confidence)
    code = flags(cols, level_side, *regime)
    level = cols.resistance.copy()  # one column kept for the whole run, not two
    np.copyto(level, cols.support, where=level_side > 0)
    return side, Lookup(code, cols.spread, cols.rsi, cols.atr, cols.stoch_k, level)


def flags(cols: Columns, level_side: np.ndarray, trending: float, sideways: float) -> np.ndarray:
    """``Lookup.code`` per bar: the flags of ``cols`` and of the level evidence's side, the
    regime as ``RegimeDetector(trending, sideways).detect`` decides it (in blocks)."""
    n = len(level_side)
    code = np.zeros(n, np.uint16)
    for lo in range(0, n, _ROWS):
        part = slice(lo, min(lo + _ROWS, n))
        k, d, adx, out = cols.stoch_k[part], cols.stoch_d[part], cols.adx[part], code[part]
        macd, engulfing, hammer = cols.macd[part], cols.engulfing[part], cols.hammer[part]
        levels = level_side[part]
        low_k = k < 20.0
        turning = (k > d) & low_k  # np.where(k < 20, k > d, k < d) without branches
        turning |= (k < d) & ~low_k
        trend = adx >= trending
        for mask, flag in (
            (cols.warm[part], WARM), (macd > 0, MACD_UP), (macd < 0, MACD_DOWN),
            (turning, TURNING), (levels > 0, SUPPORT), (levels < 0, RESISTANCE),
            (engulfing > 0, BULLISH), (engulfing < 0, BEARISH), (hammer > 0, HAMMER),
            (hammer < 0, STAR), (cols.doji[part], DOJI), (trend, TRENDING),
            (~trend & (adx < sideways), SIDEWAYS),
        ):  # fmt: skip
            out |= np.multiply(mask, flag, dtype=np.uint16)
    return code


def stochastic(high: F64, low: F64, close: F64, n: int, smooth: int) -> tuple[F64, F64]:
    """``StochasticState(n, smooth)``'s ``(k, d)`` after each bar (nan while None)."""
    size = len(close)
    first = n - 1 + smooth - 1  # the first bar with a value
    if size <= first:
        return np.full(size, np.nan), np.full(size, np.nan)
    k_out, d_out = np.empty(size), np.empty(size)
    k = k_out[n - 1 :]  # %K from bar n - 1 on (nan before bar ``first``, once %D is summed)
    for lo in range(0, len(k), _ROWS):  # in blocks: bounded temporaries
        hi = min(lo + _ROWS, len(k))
        hh = rolling_extreme(high[lo : hi + n - 1], n, np.maximum)
        ll = rolling_extreme(low[lo : hi + n - 1], n, np.minimum)
        rng = hh - ll
        with np.errstate(invalid="ignore", divide="ignore"):
            k[lo:hi] = np.where(rng != 0, 100.0 * ((close[lo + n - 1 : hi + n - 1] - ll) / rng),
                                50.0)  # fmt: skip
    rolling_sum(k, smooth, d_out[n - 1 :])
    np.divide(d_out[first:], smooth, out=d_out[first:])
    k_out[:first] = np.nan
    d_out[:first] = np.nan
    return k_out, d_out


def rolling_extreme(x: F64, n: int, pick: np.ufunc) -> F64:
    """``pick`` (``np.maximum`` / ``np.minimum``) over each window ``x[i : i + n]``, for
    ``i`` in ``0..len(x) - n``: windows of 1, 2, 4, ... values from halves, then two
    overlapping ones. Exact: the max / min of finite values in any grouping."""
    span, m = 1, x
    while 2 * span <= n:
        m = pick(m[:-span], m[span:])  # m[i]: over x[i : i + 2 * span]
        span *= 2
    rest = n - span  # the last window starts rest values later (overlapping)
    return pick(m[: len(m) - rest], m[rest:]) if rest else m.copy()


def rolling_sum(x: F64, m: int, out: F64 | None = None) -> F64:
    """``RollingSum(m).update`` on each of ``x`` (values before the window fills too), into
    ``out`` if given (not ``x``: the sums are written while ``x`` is read).

    Update ``u`` (0-based) subtracts the value leaving the window, adds ``x[u]``; every
    ``m``-th update re-sums the window with ``fsum``; an all-zero window sums to 0.0.
    Between two ``fsum`` updates the running sum takes ``m - 1`` steps: one vectorised
    pass per step over every cycle of ``m`` updates.
    """
    size = len(x)
    if out is None:
        out = np.empty(size)
    if size == 0:
        return out
    with np.errstate(invalid="ignore"):
        nonzero = (x != 0.0).astype(np.int32)
    zero = np.convolve(nonzero, np.ones(m, np.int32))[:size] == 0  # the window is all zeros
    del nonzero
    head = min(size, m - 1)
    s = 0.0
    for u in range(head):  # the window is not full yet: plain running sum
        s += x.item(u)
        s = 0.0 if zero[u] else s
        out[u] = s
    # update u = m - 1 + t * m re-sums the window x[t * m : t * m + m] (strided views:
    # x[i::m] holds each window's value i); update u + step follows it step steps later
    fulls = len(range(m - 1, size, m))
    for lo in range(0, fulls, _ROWS):  # in blocks: bounded temporaries
        hi = min(lo + _ROWS, fulls)
        out[m - 1 :: m][lo:hi] = fsums([x[i::m][lo:hi] for i in range(m)])
    cur = out[m - 1 :: m]
    cur[zero[m - 1 :: m]] = 0.0
    for step in range(1, m):  # the updates that follow an fsum, one step at a time
        cur = out[m - 1 + step :: m]
        count = len(cur)
        np.subtract(out[m - 2 + step :: m][:count], x[step - 1 :: m][:count], out=cur)
        np.add(cur, x[m - 1 + step :: m], out=cur)
        cur[zero[m - 1 + step :: m]] = 0.0
    return out


def _two_sum(a: F64, b: F64) -> tuple[F64, F64]:
    """``(s, e)``: ``s = fl(a + b)`` and its rounding error, ``a + b == s + e`` exactly
    (Knuth's TwoSum; finite ``s``)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fsums(terms: Sequence[F64]) -> F64:
    """``math.fsum`` of each row ``(terms[0][i], terms[1][i], ...)``, exactly.

    TwoSum turns the terms into ``s`` plus the rounding errors, exactly; when the errors
    add up without rounding (each of their TwoSum errors is 0), the exact sum is
    ``s + E`` of two doubles and one IEEE addition rounds it correctly, as ``fsum``
    does. Rows where that is not shown (an error sum rounded, a non-finite or zero
    result: ``fsum``'s own signs and exceptions) are summed by ``fsum``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.asarray(terms[0], np.float64)
        errs = []
        for t in terms[1:]:
            s, e = _two_sum(s, t)
            errs.append(e)
        exact = np.ones(len(s), np.bool_)
        total = errs[0] if errs else np.zeros(len(s))
        for e in errs[1:]:
            total, f = _two_sum(total, e)
            exact &= f == 0.0
        out = s + total
        redo = np.flatnonzero(~exact | ~np.isfinite(out) | (out == 0.0))
    if len(redo):
        rows = zip(*(np.asarray(t)[redo].tolist() for t in terms), strict=True)
        out[redo] = [math.fsum(r) for r in rows]
    return out


def swing_levels(high: F64, low: F64, close: F64, n: int, keep: int) -> tuple[F64, F64]:
    """``SwingLevels(n, keep).around(close)`` after each bar: ``(support, resistance)``."""
    size = len(close)
    support, resistance = np.full(size, np.nan), np.full(size, np.nan)
    width = 2 * n + 1
    if size < width:
        return support, resistance
    mid_h, mid_l = high[n : size - n], low[n : size - n]
    # SwingDetector: strictly above the n highs before, not below the n after (lows mirrored)
    is_high, is_low = np.ones(size - 2 * n, np.bool_), np.ones(size - 2 * n, np.bool_)
    for j in range(width):
        if j != n:
            hj, lj = high[j : size - 2 * n + j], low[j : size - 2 * n + j]
            is_high &= (hj < mid_h) if j < n else (hj <= mid_h)
            is_low &= (lj > mid_l) if j < n else (lj >= mid_l)
    for found, prices, out, below in ((is_low, mid_l, support, True),
                                      (is_high, mid_h, resistance, False)):  # fmt: skip
        rows = np.flatnonzero(found)
        if len(rows) == 0:
            continue
        _nearest(prices[rows], rows + 2 * n, close, keep, below, out)  # confirmed at row + 2n
    return support, resistance


def _nearest(
    levels: F64, confirmed: np.ndarray, close: F64, keep: int, below: bool, out: F64
) -> None:
    """For each bar, the nearest of the last ``keep`` levels confirmed (at bars
    ``confirmed``, ascending) up to it, on the close's side.

    The last ``keep`` levels change only when one is confirmed: each such window (of a
    block of bars) is sorted once into a column of ``keep + 1`` rows, a sentinel row
    first (-inf, a support) or last (+inf, a resistance); each bar takes its window's
    column, counts the values below its close (at or below for a support: one comparison
    of the block's columns, summed down the rows), and the count is the nearest one's
    row. Exact: the largest value at or below (smallest at or above) the close of the
    same values (positive prices: no signed zeros to order)."""
    size = len(close)
    none = -np.inf if below else np.inf
    padded = np.r_[np.full(keep, none), levels]  # window q (q levels seen): padded[q : q + keep]
    # seen[i]: the levels confirmed at bars up to i (distinct, ascending, below size)
    seen = np.repeat(np.arange(len(confirmed) + 1, dtype=np.int32),
                     np.diff(np.r_[0, confirmed, size]))  # fmt: skip
    counted = np.uint8 if keep < 256 else np.intp  # the count's type: up to keep
    for lo in range(0, size, _ROWS):
        hi = min(lo + _ROWS, size)
        first, last = seen.item(lo), seen.item(hi - 1)  # the block's windows
        width = last - first + 1
        rows = np.empty((keep + 1, width))  # rows[r, q]: window first + q's r-th value
        window = np.lib.stride_tricks.sliding_window_view(padded[first : last + keep], keep)
        rows[0 if below else keep] = none
        values = rows[1:] if below else rows[:keep]
        values[:] = np.sort(window, axis=1).T
        at = seen[lo:hi] - first
        price = close[lo:hi]
        taken = values.take(at, axis=1)
        under = (taken <= price) if below else (taken < price)
        count = under.sum(axis=0, dtype=counted).astype(np.intp)
        # at or below: the last of the ``count`` (row ``count``: 0 is the -inf sentinel);
        # at or above: the one after the ``count`` below (row ``keep``: the +inf one)
        best = rows.reshape(-1).take(count * width + at)
        best[np.isinf(best)] = np.nan  # a sentinel or a missing level: none
        out[lo:hi] = best


def patterns(o: F64, h: F64, lo: F64, c: F64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(engulfing, hammer, doji)`` per bar, as the ``patterns`` predicates decide."""
    size = len(c)
    engulfing, hammer = np.zeros(size, np.int8), np.zeros(size, np.int8)
    doji = np.zeros(size, np.bool_)
    for start in range(0, size, _ROWS):  # in blocks (the bar before each one included)
        stop = min(start + _ROWS, size)
        first = max(start - 1, 0)
        part = slice(first, stop)
        e, hs, dj = _patterns(o[part], h[part], lo[part], c[part])
        skip = start - first
        engulfing[start:stop], hammer[start:stop], doji[start:stop] = e[skip:], hs[skip:], dj[skip:]
    return engulfing, hammer, doji


def _patterns(o: F64, h: F64, lo: F64, c: F64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = len(c)
    body = np.abs(c - o)
    engulfing = np.zeros(size, np.int8)
    if size > 1:
        po, pc, pb = o[:-1], c[:-1], body[:-1]
        co, cc, cb = o[1:], c[1:], body[1:]
        bull = (pc < po) & (cc > co) & (co <= pc) & (cc >= po) & (cb > pb)
        bear = (pc > po) & (cc < co) & (co >= pc) & (cc <= po) & (cb > pb)
        engulfing[1:] = np.subtract(bull, bear, dtype=np.int8)  # exclusive: pc < po, pc > po
    rng = h - lo
    lower = np.minimum(o, c) - lo
    upper = h - np.maximum(o, c)
    is_hammer = (rng > 0) & (lower >= 2.0 * np.maximum(body, 0.05 * rng))
    is_hammer &= upper <= np.maximum(body, 0.1 * rng)
    is_star = (rng > 0) & (upper >= 2.0 * np.maximum(body, 0.05 * rng))
    is_star &= lower <= np.maximum(body, 0.1 * rng)
    hammer = np.subtract(is_hammer, is_star & ~is_hammer, dtype=np.int8)  # a hammer first
    doji = (rng > 0) & (body <= DOJI_BODY_SHARE * rng)
    return engulfing, hammer, doji


def _sign(x: F64) -> np.ndarray:
    """1, -1 or 0 (nan: 0) as int8: two exclusive tests subtracted (no np.where)."""
    return np.subtract(x > 0, x < 0, dtype=np.int8)


def _bounded(x: F64) -> F64:
    """``x`` clamped to 0..1 in place, a nan to 1 (``fmin``, ``fmax``): the scorer's
    clamp wherever ``x`` is a number other than -0.0; finite everywhere, so that a
    product with a mask is 0.0 where the mask is False."""
    np.fmin(x, 1.0, out=x)
    return np.fmax(x, 0.0, out=x)


def _add_masked(total: F64, points: F64, mask: np.ndarray, tmp: F64) -> None:
    """``total += points`` where ``mask`` (finite ``points``: elsewhere 0.0 or -0.0 is
    added, which leaves any sum as it is), without a masked loop: ``np.add(where=)`` and
    ``np.where`` branch on every value, slow on a mask without long runs."""
    np.multiply(points, mask, out=tmp)
    np.add(total, tmp, out=total)


def _level_evidence(cols: Columns, close: F64) -> tuple[np.ndarray, np.ndarray, F64]:
    """``confluence._level_evidence`` per bar: ``(support, resistance, strength)``, the
    first two the masks of the side it names (exclusive), the strength bounded
    (``_bounded``: where a level is named, the clamped one in 0.5..1)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        tol = 0.5 * cols.atr
        ds = np.subtract(close, cols.support)
        np.abs(ds, out=ds)
        dr = np.subtract(close, cols.resistance)
        np.abs(dr, out=dr)
        # a missing level (nan) is never in reach: nan <= tol is False
        reach = tol > 0
        ok_s = ds <= tol
        ok_s &= reach
        ok_r = dr <= tol
        ok_r &= reach
        # min((dist, side, level)): the nearer; at equal distances LONG < SHORT
        pick_s = ds <= dr
        pick_s |= ~ok_r
        pick_s &= ok_s
        pick_r = ok_r & ~pick_s
        # the named level's distance, ds where pick_s else dr: chosen bit by bit
        choose = pick_s.astype(np.int64)
        np.negative(choose, out=choose)  # all ones where pick_s
        bits, other = ds.view(np.int64), dr.view(np.int64)
        np.bitwise_xor(bits, other, out=bits)
        np.bitwise_and(bits, choose, out=bits)
        np.bitwise_xor(bits, other, out=bits)
        # 1 - 0.5 * dist / tol (+ 0.5 on a doji): in 0.5..1.5 where a level is named
        strength = np.multiply(ds, 0.5, out=ds)
        np.divide(strength, tol, out=strength)
        np.subtract(1.0, strength, out=strength)
        np.multiply(cols.doji, DOJI_AT_LEVEL, out=dr)
        np.add(strength, dr, out=strength)
    return pick_s, pick_r, _bounded(strength)


def _named_level(cols: Columns, level_side: np.ndarray) -> F64:
    """The support (``level_side`` 1) or resistance (-1) the level evidence names."""
    return np.where(level_side > 0, cols.support,
                    np.where(level_side < 0, cols.resistance, np.nan))  # fmt: skip


def decisions(
    cols: Columns, close: F64, weights: Mapping[str, float], scale: float, min_confidence: int
) -> tuple[np.ndarray, np.ndarray, F64, np.ndarray]:
    """``(side, confidence, level, level_side)`` per bar: side 1 LONG / -1 SHORT / 0 FLAT
    as ``on_candle`` returns it (FLAT below ``min_confidence``), confidence its scaled
    confluence (0 on a tie), the level its support/resistance evidence names and that
    evidence's side (1 support, -1 resistance, 0 none). In blocks of bars (bounded
    temporaries)."""
    side, confidence, level_side = _decisions(cols, close, weights, scale, min_confidence)
    return side, confidence, _named_level(cols, level_side), level_side


def _decisions(
    cols: Columns, close: F64, weights: Mapping[str, float], scale: float, min_confidence: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``decisions`` without the level: ``(side, confidence, level_side)``."""
    n = len(close)
    side, confidence, level_side = np.zeros(n, np.int8), np.zeros(n, np.int16), np.zeros(n, np.int8)
    for lo in range(0, n, _ROWS):
        part = slice(lo, min(lo + _ROWS, n))
        block = Columns(*(getattr(cols, f)[part] for f in Columns.__slots__))
        side[part], confidence[part], level_side[part] = _decide(
            block, close[part], weights, scale, min_confidence
        )
    return side, confidence, level_side


def _decide(
    cols: Columns, close: F64, weights: Mapping[str, float], scale: float, min_confidence: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block of ``_decisions``: each side's points summed in ``on_candle``'s evidence
    order (indicators, patterns, the level). A piece's points are a weight (>= 0) times
    its strength clamped as the scorer does (``_bounded``: finite, so ``_add_masked``
    adds them only where the piece names that side)."""
    get = weights.get
    size = len(close)
    long_, short, points, tmp = np.zeros(size), np.zeros(size), np.empty(size), np.empty(size)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = cols.spread
        np.abs(spread, out=points)  # / 1.0: the same value
        np.multiply(_bounded(points), get("ema_trend", 0.0), out=points)
        _add_masked(long_, points, spread > 0, tmp)
        _add_masked(short, points, spread < 0, tmp)
        w = get("macd", 0.0) * 1.0
        long_ += np.multiply(cols.macd > 0, w, out=tmp)
        short += np.multiply(cols.macd < 0, w, out=tmp)
        rsi, w = cols.rsi, get("rsi", 0.0)
        np.subtract(35.0, rsi, out=points)
        np.divide(points, 15.0, out=points)
        np.multiply(_bounded(points), w, out=points)
        _add_masked(long_, points, rsi < 35.0, tmp)
        np.subtract(rsi, 65.0, out=points)
        np.divide(points, 15.0, out=points)
        np.multiply(_bounded(points), w, out=points)
        _add_masked(short, points, rsi > 65.0, tmp)
        k, d = cols.stoch_k, cols.stoch_d
        low_k = k < 20.0
        w = get("stochastic", 0.0)
        # points: w x 1.0 when turning (%K above %D below 20, below it above 80), else
        # w x 0.5: looked up by (side, turning)
        turning = (k > d) & low_k
        turning |= (k < d) & ~low_k
        index = np.multiply(low_k, 2, dtype=np.uint8)
        index += turning
        long_ += np.array([0.0, 0.0, w * 0.5, w * 1.0]).take(index, out=tmp)
        np.multiply(k > 80.0, 2, out=index, dtype=np.uint8)
        index += turning
        short += np.array([0.0, 0.0, w * 0.5, w * 1.0]).take(index, out=tmp)
        for name, x in (("engulfing", cols.engulfing), ("hammer_star", cols.hammer)):
            w = get(name, 0.0) * 1.0
            long_ += np.multiply(x > 0, w, out=tmp)
            short += np.multiply(x < 0, w, out=tmp)
        support, resistance, points = _level_evidence(cols, close)
        np.multiply(points, get("support_resistance", 0.0), out=points)
        _add_masked(long_, points, support, tmp)
        _add_masked(short, points, resistance, tmp)
    # the scorer's confidence, scaled; 0 on a tie (FLAT)
    np.minimum(long_, short, out=points)
    np.multiply(points, OPPOSING_COST, out=points)
    np.maximum(long_, short, out=tmp)
    np.subtract(tmp, points, out=tmp)
    raw = np.clip(np.rint(tmp, out=tmp), 0, 100, out=tmp)
    confidence = np.clip(np.rint(np.multiply(raw, scale, out=raw), out=raw), 0, 100, out=raw)
    side = np.subtract(long_ > short, long_ < short, dtype=np.int8)  # 0: tied
    confidence *= side != 0
    side *= cols.warm & (confidence >= min_confidence)
    level_side = np.subtract(support, resistance, dtype=np.int8)  # exclusive
    return side, confidence.astype(np.int16), level_side

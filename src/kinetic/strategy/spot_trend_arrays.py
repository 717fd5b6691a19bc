"""Every bar's ``spot_trend`` score components at once, exactly (backtests).

``SpotTrendStrategy.on_candle`` scores each closed candle from its features
(``score_long``) and decides from the score and two comparisons. Here the same values
are computed for a whole series before a backtest starts, so a stepped bar only looks
its components up and a skipped stretch costs nothing (``spot_trend._Precomputed``):

* the features: a fresh ``FeatureState`` steps the warm-up bars with ``update``, then
  its batch ``feed(track=True)`` gives every later bar's values bit for bit (the states'
  own recurrences, ``confluence_arrays`` does the same);
* the components: ``score_long``'s IEEE operations in its order, elementwise (numpy's
  float64 ``-``, ``/``, ``*`` and comparisons are Python's), kept per bar as what a
  signal needs: the two fractional components, the ATR and one byte of flags (the other
  components, the trend-broken test, the fast EMA crossing below the slow one);
* the action masks: LONG where the trend is not broken and the components' sum could
  round to ``min_confidence`` or more (a margin of ``SUM_TOL`` covers a different
  summation order; on a stepped bar ``on_candle`` sums them as always), SHORT where the
  trend is broken (exact).

Data the per-bar path could treat differently (a non-finite or huge price, open times
not increasing: ``update`` raises) is not taken (``lookup`` returns None) and the
strategy keeps its vectorised superset masks and steps its incremental state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kinetic.strategy.features import FeatureParams, FeatureState
from kinetic.strategy.replay import bar_candles

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays
    from kinetic.strategy.indicators.incremental import F64

LIMIT = 1e100  # |price| above this: not taken (no overflow to inf anywhere below)
SUM_TOL = 1e-6  # confidence points: a sum in another order differs by ~1e-13
_ROWS = 16_384  # bars per block of temporaries
RSI_OVERBOUGHT = 75.0
# flags (``Lookup.code``)
WARM = 1  # the features are defined (``FeatureState.update`` not None)
ALIGNED = 2  # ema_alignment: fast EMA above slow
ABOVE = 4  # above_slow: close above the slow EMA
MACD_UP = 8  # macd_hist: histogram positive
BROKEN = 16  # fast EMA below slow and close below slow (SHORT)
CROSSED = 32  # the fast EMA crossed below the slow one on this bar
RSI_HALF, RSI_FULL = 64, 128  # rsi_band: 7.5 / 15 points
RSI_POINTS = {0: 0.0, RSI_HALF: 7.5, RSI_FULL: 15.0}


@dataclass(frozen=True, slots=True)
class Lookup:
    """Per bar, what a signal needs beyond the candle (nan while not ``WARM``)."""

    code: np.ndarray  # uint8 flags
    ema_spread: F64  # the ema_spread component
    adx_strength: F64  # the adx_strength component
    atr: F64


def lookup(
    arrays: CandleArrays, params: FeatureParams, min_confidence: int, full_spread_pct: float
) -> tuple[np.ndarray, np.ndarray, Lookup] | None:
    """``(may_long, may_short, values)`` of ``arrays`` fed from its first bar; None: the
    data is not taken. The masks also mark the warm-up bars and the first warm one."""
    if not taken(arrays):
        return None
    n = len(arrays)
    close = np.asarray(arrays.close, np.float64)
    out = Lookup(np.zeros(n, np.uint8), np.full(n, np.nan), np.full(n, np.nan),
                 np.full(n, np.nan))  # fmt: skip
    may_long = np.zeros(n, np.bool_)
    bar = min_confidence - 0.5 - SUM_TOL  # a sum at or above it could round to enough

    def put(lo: int, hi: int, f: list[F64], prev: tuple[F64, F64]) -> None:
        fast, slow, rsi, atr, adx, hist, pdi, mdi = f
        code, spread, strength, total = components(
            close[lo:hi], fast, slow, rsi, adx, hist, pdi, mdi, prev, full_spread_pct
        )
        may_long[lo:hi] = ((code & BROKEN) == 0) & ((total >= bar) | (min_confidence <= 0))
        out.code[lo:hi] = code
        out.ema_spread[lo:hi], out.adx_strength[lo:hi], out.atr[lo:hi] = spread, strength, atr

    head = min(n, params.warmup + 1)
    state = FeatureState(params)
    rows: list[list[float]] = []
    first = head  # the first warm bar
    for i, candle in enumerate(bar_candles(arrays, 0, head)):
        f = state.update(candle)
        if f is not None:
            first = min(first, i)
            pf, ps = (np.nan if v is None else v for v in (f.prev_ema_fast, f.prev_ema_slow))
            rows.append([f.ema_fast, f.ema_slow, f.rsi, f.atr, f.adx, f.macd_hist, f.plus_di,
                         f.minus_di, pf, ps])  # fmt: skip
    if rows:
        t = list(np.array(rows).T)
        put(first, head, t[:8], (t[8], t[9]))
    last = (rows[-1][0], rows[-1][1]) if rows else (np.nan, np.nan)
    for lo in range(head, n, _ROWS):  # in blocks: the feeds' Python lists stay small
        hi = min(lo + _ROWS, n)
        tracked = state.feed(arrays, lo, hi, track=True)
        assert tracked is not None
        fast, slow = tracked.ema_fast, tracked.ema_slow
        prev = (np.r_[last[0], fast[:-1]], np.r_[last[1], slow[:-1]])
        put(lo, hi, list(tracked), prev)
        last = (fast[-1], slow[-1])
    cold = np.zeros(n, np.bool_)
    cold[: params.warmup + 1] = True  # stepped: a fast-forward starts from a warm state
    return may_long | cold, ((out.code & BROKEN) != 0) | cold, out


def taken(arrays: CandleArrays) -> bool:
    """The prices are finite and below ``LIMIT``, the open times increase."""
    n = len(arrays)
    for x in (arrays.high, arrays.low, arrays.close):
        if n and not (np.isfinite(x).all() and float(np.abs(x).max()) < LIMIT):
            return False
    return n < 2 or bool((np.diff(np.asarray(arrays.open_time_ms, np.int64)) > 0).all())


def components(
    close: F64, fast: F64, slow: F64, rsi: F64, adx: F64, hist: F64, pdi: F64, mdi: F64,
    prev: tuple[F64, F64], full_spread_pct: float,
) -> tuple[np.ndarray, F64, F64, F64]:  # fmt: skip
    """``score_long`` elementwise on warm bars: ``(code, ema_spread, adx_strength, sum)``.

    ``prev`` is the previous bar's fast and slow EMA (nan: none, so no crossing).
    """
    with np.errstate(invalid="ignore", divide="ignore"):  # score_long's operations
        spread_pct = np.where(slow != 0, (fast - slow) / slow * 100.0, 0.0)
        spread = 15.0 * _clamp01(spread_pct / full_spread_pct)
        di_up = pdi > mdi
        strength = np.where(di_up, 15.0 * _clamp01((adx - 15.0) / 20.0), 0.0)
    aligned, above, macd_up = fast > slow, close > slow, hist > 0
    full = (rsi >= 45.0) & (rsi <= 70.0)
    half = ~full & (((rsi >= 40.0) & (rsi < 45.0)) | ((rsi > 70.0) & (rsi <= RSI_OVERBOUGHT)))
    broken = (fast < slow) & (close < slow)
    crossed = (prev[0] >= prev[1]) & (fast < slow)
    code = (WARM + ALIGNED * aligned + ABOVE * above + MACD_UP * macd_up + BROKEN * broken
            + CROSSED * crossed + RSI_FULL * full + RSI_HALF * half)  # fmt: skip
    rsi_points = np.where(full, 15.0, np.where(half, 7.5, 0.0))
    score = 25.0 * aligned + spread + 15.0 * above + rsi_points + strength + 15.0 * macd_up
    return code.astype(np.uint8), spread, strength, score


def _clamp01(x: F64) -> F64:
    """``base.clamp01`` elementwise (nan stays nan)."""
    return np.where(x < 0.0, 0.0, np.where(x > 1.0, 1.0, x))

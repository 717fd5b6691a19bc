"""Every bar's ``futures_regime`` inputs at once, exactly (backtests).

The same way as ``spot_trend_arrays``: a fresh ``FeatureState`` steps the warm-up bars
with ``update``, then ``feed(track=True)`` gives every later bar's features bit for bit.
Kept per bar is what a signal needs beyond the candle: the ADX (regime, the
adx_strength component, the reason), the ATR, the RSI, the di_spread component
(``score_trend``'s operations, elementwise) and one byte of flags (which of the EMAs,
the DIs is above, the MACD histogram's sign). The Bollinger bands are not tracked (the
state keeps only its window): a stepped bar computes them from the last ``bb_period``
closes of the series, as ``BollingerState`` does (``bands``).

The masks: the trend branch from the exact regime, side and components (the sum with a
``SUM_TOL`` margin, as ``spot_trend_arrays``); the mean-reversion branch on the exact
SIDEWAYS bars and RSI, the close against the vectorised bands with the relative price
margin of ``action_bars`` (a superset), none when ``min_confidence`` is above what the
branch can score (60).

Data the per-bar path could treat differently (a non-finite or huge price, open times
not increasing) is not taken (``lookup`` returns None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kinetic.strategy.action_bars import PRICE_TOL
from kinetic.strategy.features import FeatureParams, FeatureState
from kinetic.strategy.indicators import bollinger
from kinetic.strategy.replay import bar_candles
from kinetic.strategy.spot_trend_arrays import SUM_TOL, taken

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays
    from kinetic.strategy.futures_regime import RegimeDetector
    from kinetic.strategy.indicators.incremental import F64

TRANSITIONAL_MIN_CONFIDENCE = 85  # futures_regime's (checked there)
RSI_LOW, RSI_HIGH = 35.0, 65.0
REVERSION_MAX = 60  # band 30 + band_depth 15 + rsi_extreme 15
_ROWS = 16_384
# flags (``Lookup.code``)
WARM = 1
EMA_UP, EMA_DOWN = 2, 4  # fast EMA above / below the slow one
DI_UP, DI_DOWN = 8, 16  # +DI above / below -DI
MACD_UP, MACD_DOWN = 32, 64  # histogram > 0 / < 0


@dataclass(frozen=True, slots=True)
class Lookup:
    """Per bar, what a signal needs beyond the candle and the closes (nan: not warm)."""

    code: np.ndarray  # uint8 flags
    adx: F64
    atr: F64
    rsi: F64
    di_spread: F64  # score_trend's di_spread component


def lookup(
    arrays: CandleArrays, params: FeatureParams, detector: RegimeDetector, min_confidence: int
) -> tuple[np.ndarray, np.ndarray, Lookup] | None:
    """``(may_long, may_short, values)`` of ``arrays`` fed from its first bar; None: the
    data is not taken. The masks also mark the warm-up bars and the first warm one."""
    if not taken(arrays):
        return None
    n = len(arrays)
    out = Lookup(np.zeros(n, np.uint8), *(np.full(n, np.nan) for _ in range(4)))
    may_long, may_short = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    close = np.asarray(arrays.close, np.float64)
    high = np.asarray(arrays.high, np.float64)
    nb = params.bb_period

    def put(lo: int, hi: int, f: list[F64]) -> None:
        fast, slow, rsi, atr, adx, hist, pdi, mdi = f
        code, spread, trend_long, trend_short = trend(
            fast, slow, adx, hist, pdi, mdi, detector, min_confidence
        )
        c = close[lo:hi]
        bb = bollinger(close[lo - nb + 1 : hi], nb, params.bb_std)  # lo >= nb - 1: warm
        with np.errstate(invalid="ignore"):
            tol = PRICE_TOL * np.maximum(np.abs(c), np.abs(high[lo:hi]))
        rev_long, rev_short = reversion(
            c, rsi, adx, bb.upper[nb - 1 :], bb.lower[nb - 1 :], tol, detector, min_confidence
        )
        may_long[lo:hi], may_short[lo:hi] = trend_long | rev_long, trend_short | rev_short
        out.code[lo:hi] = code
        out.adx[lo:hi], out.atr[lo:hi], out.rsi[lo:hi], out.di_spread[lo:hi] = adx, atr, rsi, spread

    head = min(n, params.warmup + 1)
    state = FeatureState(params)
    rows: list[list[float]] = []
    first = head
    for i, candle in enumerate(bar_candles(arrays, 0, head)):
        f = state.update(candle)
        if f is not None:
            first = min(first, i)
            rows.append([f.ema_fast, f.ema_slow, f.rsi, f.atr, f.adx, f.macd_hist, f.plus_di,
                         f.minus_di])  # fmt: skip
    if rows:
        put(first, head, list(np.array(rows).T))
    for lo in range(head, n, _ROWS):
        hi = min(lo + _ROWS, n)
        tracked = state.feed(arrays, lo, hi, track=True)
        assert tracked is not None
        put(lo, hi, list(tracked))
    cold = np.zeros(n, np.bool_)
    cold[: params.warmup + 1] = True
    return may_long | cold, may_short | cold, out


def trend(
    fast: F64, slow: F64, adx: F64, hist: F64, pdi: F64, mdi: F64, detector: RegimeDetector,
    min_confidence: int,
) -> tuple[np.ndarray, F64, np.ndarray, np.ndarray]:  # fmt: skip
    """``(code, di_spread, may_long, may_short)`` of the trend branch on warm bars."""
    with np.errstate(invalid="ignore", divide="ignore"):  # score_trend's operations
        di_sum = pdi + mdi
        spread = np.where(di_sum != 0, np.abs(pdi - mdi) / di_sum, 0.0)
        di_spread = 25.0 * _clamp01(spread / 0.5)
        lo, hi = detector.adx_sideways, detector.adx_trending + 20.0
        strength = 30.0 * _clamp01((adx - lo) / (hi - lo))
    ema_up, ema_down, di_up, di_down = fast > slow, fast < slow, pdi > mdi, pdi < mdi
    macd_up, macd_down = hist > 0, hist < 0
    code = (WARM + EMA_UP * ema_up + EMA_DOWN * ema_down + DI_UP * di_up + DI_DOWN * di_down
            + MACD_UP * macd_up + MACD_DOWN * macd_down).astype(np.uint8)  # fmt: skip
    trending = adx >= detector.adx_trending
    sideways = adx < detector.adx_sideways
    threshold = np.where(trending, min_confidence,
                         max(min_confidence, TRANSITIONAL_MIN_CONFIDENCE))  # fmt: skip
    out = []
    for side, agrees in ((di_up & ema_up, macd_up), (di_down & ema_down, macd_down)):
        score = 20.0 + strength + 25.0 * agrees + di_spread  # the components' order
        out.append(~sideways & side & (score >= threshold - 0.5 - SUM_TOL))
    return code, di_spread, out[0], out[1]


def reversion(
    close: F64, rsi: F64, adx: F64, upper: F64, lower: F64, tol: F64, detector: RegimeDetector,
    min_confidence: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Bars that could give a mean-reversion LONG / SHORT (a superset: the bands are the
    vectorised ones, compared with the margin ``tol``)."""
    if min_confidence > REVERSION_MAX:  # to_confidence(its sum) is at most 60
        none = np.zeros(len(close), np.bool_)
        return none, none
    sideways = adx < detector.adx_sideways
    with np.errstate(invalid="ignore"):
        at_lower = ~(close > lower + tol) & (rsi < RSI_LOW)
        at_upper = ~(close < upper - tol) & (rsi > RSI_HIGH)
    return sideways & at_lower, sideways & at_upper


def _clamp01(x: F64) -> F64:
    """``base.clamp01`` elementwise (nan stays nan)."""
    return np.where(x < 0.0, 0.0, np.where(x > 1.0, 1.0, x))

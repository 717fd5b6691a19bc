"""Regime-switching futures strategy: trend following when ADX is high, Bollinger
mean reversion when it is low, and entries only on very strong agreement in between.

Trend confidence (0..100), components in ``Signal.components``:

* ``alignment`` 20 — +DI/-DI and fast/slow EMA agree on the side;
* ``adx_strength`` 0..30 — ADX from ``adx_sideways`` to ``adx_trending + 20``;
* ``macd_agreement`` 25 — MACD histogram on the trade's side;
* ``di_spread`` 0..25 — ``|+DI - -DI| / (+DI + -DI)``, full marks at 0.5.

Mean-reversion confidence (at most 60): ``band`` 30 for a close beyond a band,
``band_depth`` 0..15 for how far beyond (full at 25 % of the band half-width) and
``rsi_extreme`` 0..15 (RSI below 35 / above 65, full at 20 / 80). RSI must confirm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kinetic.domain import Candle, Direction, Regime, Signal
from kinetic.strategy import action_bars as ab
from kinetic.strategy import futures_regime_arrays as fra
from kinetic.strategy.base import Tunable, clamp01, flat_signal, to_confidence
from kinetic.strategy.features import FeatureParams, Features, FeatureState
from kinetic.strategy.futures_regime_arrays import (
    RSI_HIGH,
    RSI_LOW,
    TRANSITIONAL_MIN_CONFIDENCE,
)
from kinetic.strategy.indicators.incremental import bands
from kinetic.strategy.precomputed import FeatureSeries, Precomputed

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays


class RegimeDetector:
    """Classify the market regime from ADX."""

    def __init__(self, adx_trending: float = 25.0, adx_sideways: float = 15.0) -> None:
        if not 0 <= adx_sideways < adx_trending:
            raise ValueError(
                f"need 0 <= adx_sideways < adx_trending, got {adx_sideways} / {adx_trending}"
            )
        self.adx_trending = adx_trending
        self.adx_sideways = adx_sideways

    def detect(self, adx: float) -> Regime:
        """Return TRENDING if ``adx >= trending``, SIDEWAYS if ``< sideways``, else TRANSITIONAL."""
        if adx >= self.adx_trending:
            return Regime.TRENDING
        if adx < self.adx_sideways:
            return Regime.SIDEWAYS
        return Regime.TRANSITIONAL


def trend_side(f: Features) -> Direction:
    """Return LONG/SHORT when DI and EMAs agree, else FLAT."""
    if f.plus_di > f.minus_di and f.ema_fast > f.ema_slow:
        return Direction.LONG
    if f.minus_di > f.plus_di and f.ema_fast < f.ema_slow:
        return Direction.SHORT
    return Direction.FLAT


def score_trend(f: Features, side: Direction, detector: RegimeDetector) -> dict[str, float]:
    """Return the trend components for ``side`` (all 0 when ``side`` is FLAT)."""
    if side is Direction.FLAT:
        return dict(_NO_TREND)
    sign = 1.0 if side is Direction.LONG else -1.0
    di_sum = f.plus_di + f.minus_di
    spread = abs(f.plus_di - f.minus_di) / di_sum if di_sum else 0.0
    return _trend(f.adx, sign * f.macd_hist > 0, 25.0 * clamp01(spread / 0.5), detector)


_NO_TREND = {"alignment": 0.0, "adx_strength": 0.0, "macd_agreement": 0.0, "di_spread": 0.0}


def _trend(
    adx: float, macd_agrees: bool, di_spread: float, detector: RegimeDetector
) -> dict[str, float]:
    lo, hi = detector.adx_sideways, detector.adx_trending + 20.0
    return {
        "alignment": 20.0,
        "adx_strength": 30.0 * clamp01((adx - lo) / (hi - lo)),
        "macd_agreement": 25.0 if macd_agrees else 0.0,
        "di_spread": di_spread,
    }


def score_reversion(f: Features) -> tuple[Direction, dict[str, float]]:
    """Return the mean-reversion side and components at the Bollinger extremes."""
    return _reversion(f.close, f.rsi, f.bb_upper, f.bb_lower)


def _reversion(
    close: float, rsi: float, bb_upper: float, bb_lower: float
) -> tuple[Direction, dict[str, float]]:
    half = (bb_upper - bb_lower) / 2.0
    if close <= bb_lower and rsi < RSI_LOW:
        depth = (bb_lower - close) / half if half > 0 else 0.0
        extreme = (RSI_LOW - rsi) / 15.0
        side = Direction.LONG
    elif close >= bb_upper and rsi > RSI_HIGH:
        depth = (close - bb_upper) / half if half > 0 else 0.0
        extreme = (rsi - RSI_HIGH) / 15.0
        side = Direction.SHORT
    else:
        return Direction.FLAT, {"band": 0.0, "band_depth": 0.0, "rsi_extreme": 0.0}
    return side, {
        "band": 30.0,
        "band_depth": 15.0 * clamp01(depth / 0.25),
        "rsi_extreme": 15.0 * clamp01(extreme),
    }


def regime_masks(f: ab.ApproxFeatures, detector: RegimeDetector) -> tuple[np.ndarray, ...]:
    """Per bar: could the regime be TRENDING, TRANSITIONAL, SIDEWAYS (maybe, see ``ab``)."""
    t = ab.OSC_TOL
    with np.errstate(invalid="ignore"):
        trending = ~(f.adx < detector.adx_trending - t)
    sideways = ab.maybe_lt(f.adx, detector.adx_sideways, t)
    with np.errstate(invalid="ignore"):
        transitional = ab.maybe_lt(f.adx, detector.adx_trending, t) & ~(
            f.adx < detector.adx_sideways - t
        )
    return trending, transitional, sideways


def trend_masks(f: ab.ApproxFeatures, detector: RegimeDetector, min_confidence: int) -> ab.Masks:
    """Bars on which the trend branch could give LONG / SHORT (any regime but SIDEWAYS)."""
    trending, transitional, _ = regime_masks(f, detector)
    t = ab.OSC_TOL
    lo, hi = detector.adx_sideways, detector.adx_trending + 20.0
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = (np.abs(f.plus_di - f.minus_di) + 2 * t) / (f.plus_di + f.minus_di - 2 * t)
    spread = np.where(f.plus_di + f.minus_di > 2 * t, spread, 1.0)
    base = 20.0 + 30.0 * ab.clamp01((f.adx + t - lo) / (hi - lo)) + 25.0 * ab.clamp01(spread / 0.5)
    threshold = np.where(trending, min_confidence, max(min_confidence, TRANSITIONAL_MIN_CONFIDENCE))
    out = []
    for sign in (1.0, -1.0):
        side = ab.maybe_gt(sign * f.plus_di, sign * f.minus_di, t) & ab.maybe_gt(
            sign * f.ema_fast, sign * f.ema_slow, f.tol
        )
        score = base + 25.0 * ab.maybe_gt(sign * f.macd_hist, 0.0, f.tol)
        out.append((trending | transitional) & side & (score >= threshold - ab.CONF_TOL))
    return out[0], out[1]


def reversion_masks(f: ab.ApproxFeatures, detector: RegimeDetector) -> ab.Masks:
    """Bars on which the mean-reversion branch could give LONG / SHORT (SIDEWAYS only)."""
    _, _, sideways = regime_masks(f, detector)
    t = ab.OSC_TOL
    at_lower = ~(f.close > f.bb_lower + f.tol) & ab.maybe_lt(f.rsi, RSI_LOW, t)
    at_upper = ~(f.close < f.bb_upper - f.tol) & ab.maybe_gt(f.rsi, RSI_HIGH, t)
    return sideways & at_lower, sideways & at_upper


class FuturesRegimeStrategy(FeatureSeries, Tunable):
    """Long/short futures strategy that switches behaviour with the ADX regime."""

    name = "futures_regime"

    def __init__(
        self,
        min_confidence: int,
        adx_trending: float = 25.0,
        adx_sideways: float = 15.0,
        fast: int = 100,  # the engines run the per-engine values of kinetic.strategy.tuned
        slow: int = 400,
        rsi_period: int = 14,
        adx_period: int = 14,
        bb_period: int = 20,
        bb_std: float = 2.0,
    ) -> None:
        if not 0 <= min_confidence <= 100:
            raise ValueError(f"min_confidence must be within 0..100, got {min_confidence}")
        self.min_confidence = min_confidence
        self.params: dict[str, object] = {
            "min_confidence": min_confidence, "adx_trending": adx_trending,
            "adx_sideways": adx_sideways, "fast": fast, "slow": slow, "rsi_period": rsi_period,
            "adx_period": adx_period, "bb_period": bb_period, "bb_std": bb_std,
        }  # fmt: skip
        self.detector = RegimeDetector(adx_trending, adx_sideways)
        self._params = FeatureParams(
            fast=fast, slow=slow, rsi_period=rsi_period, adx_period=adx_period,
            bb_period=bb_period, bb_std=bb_std,
        )  # fmt: skip
        self.warmup = self._params.warmup
        self._states: dict[str, FeatureState] = {}
        self._pre: dict[str, Precomputed[fra.Lookup]] = {}  # backtests: see action_bars

    # ------------------------------------------------------------ fast-forward (backtests)
    def action_bars(self, symbol: str, arrays: CandleArrays) -> ab.Masks:
        """Bars on which ``on_candle`` could return LONG / SHORT (see ``ActionBars``).

        Every bar's features are computed at once, exactly (``futures_regime_arrays``);
        when ``symbol`` has no state yet, the strategy keeps them (as ``spot_trend``):
        a stepped bar looks them up, a skipped stretch moves an index. Data that path
        does not take gets masks from the vectorised indicators, with margins.
        """
        found = fra.lookup(arrays, self._params, self.detector, self.min_confidence)
        if found is None:
            return self._approx_masks(arrays)
        may_long, may_short, values = found
        self._keep(symbol, arrays, values)
        return may_long, may_short

    def _approx_masks(self, arrays: CandleArrays) -> ab.Masks:
        f = ab.approx_features(self._params, arrays)
        if f is None:
            return ab.every_bar(arrays)
        trend_long, trend_short = trend_masks(f, self.detector, self.min_confidence)
        rev_long, rev_short = reversion_masks(f, self.detector)
        return ab.finish(f, trend_long | rev_long, trend_short | rev_short)

    def _looked_up(self, pre: Precomputed[fra.Lookup], candle: Candle) -> Signal:
        """``on_candle``'s signal on bar ``pre.cursor``, from the precomputed values."""
        i, v = pre.cursor, pre.values
        assert v is not None  # is_next: bar i exists
        pre.move(i + 1)
        code = v.code.item(i)
        if not code & fra.WARM:
            return flat_signal(candle, f"warming up ({i + 1}/{self.warmup})")
        adx = v.adx.item(i)
        regime = self.detector.detect(adx)
        if regime is Regime.SIDEWAYS:
            n = self._params.bb_period
            bb = bands(pre.arrays.close[i - n + 1 : i + 1].tolist(), n, self._params.bb_std)
            side, components = _reversion(candle.close, v.rsi.item(i), bb.upper, bb.lower)
        else:
            side = Direction.FLAT
            if code & fra.DI_UP and code & fra.EMA_UP:
                side = Direction.LONG
            elif code & fra.DI_DOWN and code & fra.EMA_DOWN:
                side = Direction.SHORT
            components = dict(_NO_TREND)
            if side is not Direction.FLAT:
                agrees = code & (fra.MACD_UP if side is Direction.LONG else fra.MACD_DOWN)
                components = _trend(adx, bool(agrees), v.di_spread.item(i), self.detector)
        return self._signal(candle, regime, side, components, adx, v.atr.item(i))

    def on_candle(self, candle: Candle) -> Signal:
        """Consume one closed candle; return LONG, SHORT or FLAT with the regime."""
        f = self._step(candle)
        if isinstance(f, Signal):  # looked up, or warming up
            return f
        regime = self.detector.detect(f.adx)
        if regime is Regime.SIDEWAYS:
            side, components = score_reversion(f)
        else:
            side = trend_side(f)
            components = score_trend(f, side, self.detector)
        return self._signal(candle, regime, side, components, f.adx, f.atr)

    def _signal(
        self, candle: Candle, regime: Regime, side: Direction, components: dict[str, float],
        adx: float, atr: float,
    ) -> Signal:  # fmt: skip
        threshold = self.min_confidence
        if regime is Regime.SIDEWAYS:
            label = "mean reversion at Bollinger band"
        else:
            if regime is Regime.TRANSITIONAL:
                threshold = max(threshold, TRANSITIONAL_MIN_CONFIDENCE)
            label = "trend following" if regime is Regime.TRENDING else "strong transitional trend"
        confidence = to_confidence(sum(components.values()))
        direction = (
            side if side is not Direction.FLAT and confidence >= threshold else Direction.FLAT
        )
        if direction is Direction.FLAT:
            reason = f"{regime.value}: no entry (confidence {confidence}, needs {threshold})"
        else:
            reason = f"{regime.value}: {label} {direction.value} (ADX {adx:.1f})"
        return Signal(
            symbol=candle.symbol, direction=direction, confidence=confidence,
            price=candle.close, ts_ms=candle.close_time_ms, atr=atr, regime=regime,
            reason=reason, components={**components, "adx": float(adx)},
        )  # fmt: skip

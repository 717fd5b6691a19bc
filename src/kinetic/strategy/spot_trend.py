"""Long-only trend following for the spot engine.

Confidence (0..100) is the sum of visible components, each in ``Signal.components``:

==============  ====  ==========================================================
component       max   rule
==============  ====  ==========================================================
ema_alignment    25   fast EMA above slow EMA
ema_spread       15   (fast - slow) / slow, full marks at ``full_spread_pct``
above_slow       15   close above the slow EMA
rsi_band         15   RSI in 45..70 full, 40..45 / 70..75 half, else 0 (> 75 overbought)
adx_strength     15   ADX from 15 (0) to 35 (full), only while +DI > -DI
macd_hist        15   MACD histogram positive
==============  ====  ==========================================================

LONG when confidence >= ``min_confidence``. SHORT means "trend broken, exit": the fast
EMA is below the slow EMA and the close is below the slow EMA; its confidence is
``100 - long score``. Otherwise FLAT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kinetic.domain import Candle, Direction, Signal
from kinetic.strategy import action_bars as ab
from kinetic.strategy import spot_trend_arrays as sta
from kinetic.strategy.base import Tunable, clamp01, flat_signal, to_confidence
from kinetic.strategy.features import FeatureParams, Features, FeatureState
from kinetic.strategy.precomputed import FeatureSeries, Precomputed
from kinetic.strategy.spot_trend_arrays import RSI_OVERBOUGHT

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays

FULL_SPREAD_PCT = 1.0  # score_long's default, the one on_candle scores with


def _rsi_points(rsi: float) -> float:
    if 45.0 <= rsi <= 70.0:
        return 15.0
    if 40.0 <= rsi < 45.0 or 70.0 < rsi <= RSI_OVERBOUGHT:
        return 7.5
    return 0.0


def score_long(f: Features, full_spread_pct: float = FULL_SPREAD_PCT) -> dict[str, float]:
    """Return each component's contribution to the long confidence."""
    spread_pct = (f.ema_fast - f.ema_slow) / f.ema_slow * 100.0 if f.ema_slow else 0.0
    di_up = f.plus_di > f.minus_di
    return {
        "ema_alignment": 25.0 if f.ema_fast > f.ema_slow else 0.0,
        "ema_spread": 15.0 * clamp01(spread_pct / full_spread_pct),
        "above_slow": 15.0 if f.close > f.ema_slow else 0.0,
        "rsi_band": _rsi_points(f.rsi),
        "adx_strength": 15.0 * clamp01((f.adx - 15.0) / 20.0) if di_up else 0.0,
        "macd_hist": 15.0 if f.macd_hist > 0 else 0.0,
    }


class SpotTrendStrategy(FeatureSeries, Tunable):
    """Long-only EMA/RSI/ADX/MACD trend follower with per-symbol incremental state."""

    name = "spot_trend"

    def __init__(
        self,
        min_confidence: int,
        fast: int = 100,  # the engines run the per-engine values of kinetic.strategy.tuned
        slow: int = 400,
        rsi_period: int = 14,
        adx_period: int = 14,
    ) -> None:
        if not 0 <= min_confidence <= 100:
            raise ValueError(f"min_confidence must be within 0..100, got {min_confidence}")
        self.min_confidence = min_confidence
        self.params: dict[str, object] = {
            "min_confidence": min_confidence, "fast": fast, "slow": slow,
            "rsi_period": rsi_period, "adx_period": adx_period,
        }  # fmt: skip
        self._params = FeatureParams(
            fast=fast, slow=slow, rsi_period=rsi_period, adx_period=adx_period
        )
        self.warmup = self._params.warmup
        self._states: dict[str, FeatureState] = {}
        self._pre: dict[str, Precomputed[sta.Lookup]] = {}  # backtests: see action_bars

    # ------------------------------------------------------------ fast-forward (backtests)
    def action_bars(self, symbol: str, arrays: CandleArrays) -> ab.Masks:
        """Bars on which ``on_candle`` could return LONG / SHORT (see ``ActionBars``).

        SHORT needs the trend broken (fast EMA and close below the slow EMA); LONG needs
        it not broken and a confidence of at least ``min_confidence``. Every bar's
        features and components are computed at once, exactly (``spot_trend_arrays``);
        when ``symbol`` has no state yet, the strategy keeps them: its state is then the
        series and the next bar's index, a stepped bar looks its components up and a
        skipped stretch moves the index. Data that path does not take (non-finite
        prices, ...) gets masks from the vectorised indicators, with margins.
        """
        found = sta.lookup(arrays, self._params, self.min_confidence, FULL_SPREAD_PCT)
        if found is None:
            return self._approx_masks(arrays)
        may_long, may_short, values = found
        self._keep(symbol, arrays, values)
        return may_long, may_short

    def _approx_masks(self, arrays: CandleArrays) -> ab.Masks:
        f = ab.approx_features(self._params, arrays)
        if f is None:
            return ab.every_bar(arrays)
        may_short = ab.maybe_lt(f.ema_fast, f.ema_slow, f.tol) & ab.maybe_lt(
            f.close, f.ema_slow, f.tol
        )
        with np.errstate(invalid="ignore"):
            surely_broken = (f.ema_fast < f.ema_slow - f.tol) & (f.close < f.ema_slow - f.tol)
        may_long = ~surely_broken & (_long_score_bound(f) >= self.min_confidence - ab.CONF_TOL)
        return ab.finish(f, may_long, may_short)

    def _looked_up(self, pre: Precomputed[sta.Lookup], candle: Candle) -> Signal:
        """``on_candle``'s signal on bar ``pre.cursor``, from the precomputed values."""
        i, v = pre.cursor, pre.values
        assert v is not None  # is_next: bar i exists
        pre.move(i + 1)
        code = v.code.item(i)
        if not code & sta.WARM:
            return flat_signal(candle, f"warming up ({i + 1}/{self.warmup})")
        components = {
            "ema_alignment": 25.0 if code & sta.ALIGNED else 0.0,
            "ema_spread": v.ema_spread.item(i),
            "above_slow": 15.0 if code & sta.ABOVE else 0.0,
            "rsi_band": sta.RSI_POINTS[code & (sta.RSI_HALF | sta.RSI_FULL)],
            "adx_strength": v.adx_strength.item(i),
            "macd_hist": 15.0 if code & sta.MACD_UP else 0.0,
        }
        broken, crossed = bool(code & sta.BROKEN), bool(code & sta.CROSSED)
        return self._signal(candle, components, broken, crossed, v.atr.item(i))

    def on_candle(self, candle: Candle) -> Signal:
        """Consume one closed candle; return LONG, SHORT (exit) or FLAT."""
        f = self._step(candle)
        if isinstance(f, Signal):  # looked up, or warming up
            return f
        broken = f.ema_fast < f.ema_slow and f.close < f.ema_slow
        return self._signal(candle, score_long(f), broken, broken and f.crossed_below, f.atr)

    def _signal(
        self, candle: Candle, components: dict[str, float], broken: bool, crossed: bool,
        atr: float,
    ) -> Signal:  # fmt: skip
        confidence = to_confidence(sum(components.values()))
        if broken:
            direction = Direction.SHORT
            confidence = 100 - confidence
            reason = "trend broken: fast EMA below slow, close below slow EMA"
            if crossed:
                reason = "trend broken: fast EMA crossed below slow EMA"
        elif confidence >= self.min_confidence:
            direction = Direction.LONG
            reason = f"uptrend: {_top(components)} (confidence {confidence})"
        else:
            direction = Direction.FLAT
            reason = f"no entry: confidence {confidence} < {self.min_confidence}"
        return Signal(
            symbol=candle.symbol, direction=direction, confidence=confidence,
            price=candle.close, ts_ms=candle.close_time_ms, atr=atr,
            reason=reason, components=components,
        )  # fmt: skip


def _long_score_bound(f: ab.ApproxFeatures) -> np.ndarray:
    """An upper bound of ``sum(score_long(...))`` per bar (every component at its most)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = (f.ema_fast - f.ema_slow + f.tol) / f.ema_slow * 100.0
    rsi_points = np.zeros_like(f.rsi)
    for r in (f.rsi - ab.OSC_TOL, f.rsi, f.rsi + ab.OSC_TOL):
        with np.errstate(invalid="ignore"):
            pts = np.where((r >= 45.0) & (r <= 70.0), 15.0,
                           np.where((r >= 40.0) & (r <= RSI_OVERBOUGHT), 7.5, 0.0))  # fmt: skip
        rsi_points = np.maximum(rsi_points, np.where(np.isnan(r), 15.0, pts))
    di_up = ab.maybe_gt(f.plus_di, f.minus_di, ab.OSC_TOL)
    return np.asarray(
        25.0 * ab.maybe_gt(f.ema_fast, f.ema_slow, f.tol)
        + 15.0 * ab.clamp01(spread)
        + 15.0 * ab.maybe_gt(f.close, f.ema_slow, f.tol)
        + rsi_points
        + np.where(di_up, 15.0 * ab.clamp01((f.adx + ab.OSC_TOL - 15.0) / 20.0), 0.0)
        + 15.0 * ab.maybe_gt(f.macd_hist, 0.0, f.tol)
    )


def _top(components: dict[str, float]) -> str:
    scored = [name for name, v in components.items() if v > 0]
    return ", ".join(scored) if scored else "no component"

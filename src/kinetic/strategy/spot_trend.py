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

from kinetic.domain import Candle, Direction, Signal
from kinetic.strategy.base import clamp01, flat_signal, to_confidence
from kinetic.strategy.features import FeatureParams, Features, FeatureState

RSI_OVERBOUGHT = 75.0


def _rsi_points(rsi: float) -> float:
    if 45.0 <= rsi <= 70.0:
        return 15.0
    if 40.0 <= rsi < 45.0 or 70.0 < rsi <= RSI_OVERBOUGHT:
        return 7.5
    return 0.0


def score_long(f: Features, full_spread_pct: float = 1.0) -> dict[str, float]:
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


class SpotTrendStrategy:
    """Long-only EMA/RSI/ADX/MACD trend follower with per-symbol incremental state."""

    name = "spot_trend"

    def __init__(
        self,
        min_confidence: int,
        fast: int = 20,
        slow: int = 50,
        rsi_period: int = 14,
        adx_period: int = 14,
    ) -> None:
        if not 0 <= min_confidence <= 100:
            raise ValueError(f"min_confidence must be within 0..100, got {min_confidence}")
        self.min_confidence = min_confidence
        self._params = FeatureParams(
            fast=fast, slow=slow, rsi_period=rsi_period, adx_period=adx_period
        )
        self.warmup = self._params.warmup
        self._states: dict[str, FeatureState] = {}

    def reset(self, symbol: str) -> None:
        """Forget the state of ``symbol``."""
        self._states.pop(symbol, None)

    def on_candle(self, candle: Candle) -> Signal:
        """Consume one closed candle; return LONG, SHORT (exit) or FLAT."""
        state = self._states.get(candle.symbol)
        if state is None:
            state = self._states[candle.symbol] = FeatureState(self._params)
        f = state.update(candle)
        if f is None:
            return flat_signal(candle, f"warming up ({state.count}/{self.warmup})")
        components = score_long(f)
        confidence = to_confidence(sum(components.values()))
        broken = f.ema_fast < f.ema_slow and f.close < f.ema_slow
        if broken:
            direction = Direction.SHORT
            confidence = 100 - confidence
            reason = "trend broken: fast EMA below slow, close below slow EMA"
            if f.crossed_below:
                reason = "trend broken: fast EMA crossed below slow EMA"
        elif confidence >= self.min_confidence:
            direction = Direction.LONG
            reason = f"uptrend: {_top(components)} (confidence {confidence})"
        else:
            direction = Direction.FLAT
            reason = f"no entry: confidence {confidence} < {self.min_confidence}"
        return Signal(
            symbol=candle.symbol, direction=direction, confidence=confidence,
            price=candle.close, ts_ms=candle.close_time_ms, atr=f.atr,
            reason=reason, components=components,
        )  # fmt: skip


def _top(components: dict[str, float]) -> str:
    scored = [name for name, v in components.items() if v > 0]
    return ", ".join(scored) if scored else "no component"

"""Smart Money Concepts futures strategy (seed 002): trade with the higher-timeframe
bias, from an order block or fair value gap, in the discount (long) or premium (short)
half of the latest swing leg.

Confidence (0..100), every component in ``Signal.components``:

==============  ====  ==========================================================
component       max   rule
==============  ====  ==========================================================
htf_bias         30   the HTF structure trend (closed HTF bars only) is the side
structure        20   latest base-timeframe break on the side: BOS 20, CHoCH 15
zone             25   the candle touches an unmitigated order block (25) or fair
                      value gap (20) of the side, known before this candle
fib              15   retracement of the latest swing leg: >= 0.5 (discount for a
                      long, premium for a short) 10; within 0.618..0.786 (OTE) 15
rejection        10   the candle closes in the side's direction (close vs open)
==============  ====  ==========================================================

The side is the HTF bias; with no bias the signal is FLAT. An entry (LONG/SHORT) needs
``confidence >= min_confidence`` *and* a zone touch *and* the discount/premium gate
(``fib > 0``); otherwise FLAT, with the missing parts in the reason. ``regime`` comes
from ADX (``RegimeDetector``), ``atr`` is Wilder ATR(14); ``components`` also carries
``retracement`` and ``adx`` for the record.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from kinetic.domain import Candle, Direction, Regime, Signal
from kinetic.strategy.base import Tunable, flat_signal, to_confidence
from kinetic.strategy.futures_regime import RegimeDetector
from kinetic.strategy.indicators import ADXState, ATRState
from kinetic.strategy.replay import bar_candles, shadow_masks
from kinetic.strategy.smc_arrays import OB_BARS, SMCPlan, restore
from kinetic.strategy.structure import (
    HTFAggregator,
    MarketStructure,
    StructureEvent,
    SwingDetector,
    Zone,
    detect_fvg,
    find_order_block,
    retracement,
)

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays

OTE = (0.618, 0.786)
MAX_ZONES = 12


class _SymbolState:
    """Everything the strategy remembers about one symbol."""

    __slots__ = (
        "adx", "atr", "bars", "count", "htf", "htf_structure", "htf_swings", "last_ms",
        "structure", "swings", "zone_max_age", "zones",
    )  # fmt: skip

    def __init__(self, swing_n: int, htf_factor: int, htf_swing_n: int, lookback: int) -> None:
        # only the bars ``update`` reads: the breaking one and the ten before it (an
        # order block's candidates, within ``lookback``), the last three for a gap
        self.bars: deque[Candle] = deque(maxlen=min(lookback, OB_BARS + 1))
        self.swings = SwingDetector(swing_n)
        self.structure = MarketStructure()
        self.htf = HTFAggregator(htf_factor)
        self.htf_swings = SwingDetector(htf_swing_n)
        self.htf_structure = MarketStructure()
        self.zones: list[Zone] = []
        self.zone_max_age = lookback * 4
        self.atr = ATRState(14)
        self.adx = ADXState(14)
        self.count = 0
        self.last_ms: int | None = None

    def update(self, c: Candle) -> StructureEvent | None:
        """Advance every element by one closed candle; return a base-timeframe break."""
        if self.last_ms is not None and c.open_time_ms <= self.last_ms:
            raise ValueError(
                f"{c.symbol}: candle {c.open_time_ms} is not after the last one {self.last_ms}"
            )
        self.last_ms = c.open_time_ms
        index = self.count
        self.count += 1
        self.atr.update(c.high, c.low, c.close)
        self.adx.update(c.high, c.low, c.close)
        for bar in self.htf.update(c):
            for swing in self.htf_swings.update(bar.high, bar.low):
                self.htf_structure.add_swing(swing)
            self.htf_structure.on_close(bar.close, self.htf_swings.count - 1)
        self.bars.append(c)
        for swing in self.swings.update(c.high, c.low):
            self.structure.add_swing(swing)
        event = self.structure.on_close(c.close, index)
        bars = self.bars
        if event is not None:  # the order block precedes the breaking candle
            recent = [bars[i] for i in range(max(-len(bars), -OB_BARS - 1), -1)]
            self._add(find_order_block(recent, event.side, index))
        if len(bars) >= 3:
            self._add(detect_fvg([bars[-3], bars[-2], bars[-1]], index))
        if self.zones:
            self.zones = [
                z for z in self.zones
                if not z.mitigated_by(c.close) and index - z.index <= self.zone_max_age
            ]  # fmt: skip
        return event

    def _add(self, zone: Zone | None) -> None:
        if zone is not None:
            self.zones.append(zone)
            del self.zones[:-MAX_ZONES]


def _zone_points(zones: list[Zone], c: Candle, side: Direction, index: int) -> float:
    touched = [z for z in zones if z.side is side and z.index < index and z.contains(c.low, c.high)]
    if any(z.kind == "OB" for z in touched):
        return 25.0
    return 20.0 if touched else 0.0


def _fib_points(retraced: float) -> float:
    if OTE[0] <= retraced <= OTE[1]:
        return 15.0
    return 10.0 if retraced >= 0.5 else 0.0


def score_smc(state: _SymbolState, c: Candle, side: Direction) -> dict[str, float]:
    """Return the SMC components of a ``side`` entry on candle ``c`` (side not FLAT)."""
    index = state.count - 1
    event = state.structure.last_event
    structure = 0.0
    if event is not None and event.side is side:
        structure = 20.0 if event.kind == "BOS" else 15.0
    leg = state.structure.leg()
    retraced = retracement(c.close, leg[0], leg[1], side) if leg else 0.0
    bullish_close = c.close > c.open
    rejection = bullish_close if side is Direction.LONG else c.close < c.open
    return {
        "htf_bias": 30.0,
        "structure": structure,
        "zone": _zone_points(state.zones, c, side, index),
        "fib": _fib_points(retraced) if leg else 0.0,
        "rejection": 10.0 if rejection else 0.0,
    }


class SMCStrategy(Tunable):
    """Market-structure strategy: HTF bias, BOS/CHoCH, OB/FVG zones, Fibonacci gate."""

    name = "smc"

    def __init__(
        self,
        min_confidence: int,
        swing_n: int = 3,
        htf_factor: int = 12,
        htf_swing_n: int = 2,
        lookback: int = 50,
        adx_trending: float = 25.0,
        adx_sideways: float = 15.0,
    ) -> None:
        if not 0 <= min_confidence <= 100:
            raise ValueError(f"min_confidence must be within 0..100, got {min_confidence}")
        self.min_confidence = min_confidence
        self.params: dict[str, object] = {
            "min_confidence": min_confidence, "swing_n": swing_n, "htf_factor": htf_factor,
            "htf_swing_n": htf_swing_n, "lookback": lookback, "adx_trending": adx_trending,
            "adx_sideways": adx_sideways,
        }  # fmt: skip
        self.detector = RegimeDetector(adx_trending, adx_sideways)
        self._args = (swing_n, htf_factor, htf_swing_n, lookback)
        SwingDetector(swing_n), HTFAggregator(htf_factor), SwingDetector(htf_swing_n)  # validate
        self.warmup = max(28, 2 * swing_n + 1)
        self._states: dict[str, _SymbolState] = {}
        self._plans: dict[str, SMCPlan] = {}  # per symbol, from ``action_bars``

    def reset(self, symbol: str) -> None:
        """Forget the state of ``symbol``."""
        self._states.pop(symbol, None)

    def _state(self, symbol: str) -> _SymbolState:
        state = self._states.get(symbol)
        if state is None:
            state = self._states[symbol] = _SymbolState(*self._args)
        return state

    # ------------------------------------------------------------ fast-forward (backtests)
    def action_bars(self, symbol: str, arrays: CandleArrays) -> tuple[np.ndarray, np.ndarray]:
        """Bars on which ``on_candle`` returns LONG / SHORT (see ``ActionBars``): exact,
        from the whole-series plan (``smc_arrays``), kept for ``fast_forward``. A series
        the plan cannot describe exactly gets a shadow replay (``replay``) instead."""
        plan = SMCPlan.build(arrays, self._args, MAX_ZONES)
        if plan is None:
            self._plans.pop(symbol, None)
            state = _SymbolState(*self._args)

            def decide(c: Candle) -> Direction:
                state.update(c)
                return self._direction(state, c)

            return shadow_masks(decide, arrays)
        self._plans[symbol] = plan
        sides = plan.directions(self.min_confidence, self.warmup)
        return sides == 1, sides == -1

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Advance ``symbol``'s state over bars ``start..stop-1`` as ``on_candle`` would:
        restored from the plan of ``arrays`` when the state is at bar ``start`` of them
        (``smc_arrays.restore``), else fed bar by bar."""
        state = self._state(symbol)
        if stop <= start:
            return
        plan = self._plans.get(symbol)
        if (
            plan is not None and plan.arrays is arrays and state.count == start
            and state.last_ms == (arrays.open_time_ms.item(start - 1) if start else None)
        ):  # fmt: skip
            restore(state, plan, start, stop)
            return
        for candle in bar_candles(arrays, start, stop):
            state.update(candle)

    def on_candle(self, candle: Candle) -> Signal:
        """Consume one closed candle; return LONG, SHORT or FLAT with the SMC components."""
        state = self._state(candle.symbol)
        state.update(candle)
        atr, adx = state.atr.value, state.adx.value
        if state.count < self.warmup or atr is None or adx is None:
            return flat_signal(candle, f"warming up ({state.count}/{self.warmup})")
        regime = self.detector.detect(adx.adx)
        side = state.htf_structure.trend
        if side is Direction.FLAT:
            return flat_signal(candle, "no higher-timeframe bias yet", atr, regime)
        return self._decide(state, candle, side, atr, regime, adx.adx)

    def _enters(self, components: dict[str, float], confidence: int) -> bool:
        """An entry needs a zone touch, the discount/premium gate and the confidence."""
        return (
            components["zone"] > 0 and components["fib"] > 0 and confidence >= self.min_confidence
        )

    def _direction(self, state: _SymbolState, c: Candle) -> Direction:
        """The direction ``on_candle`` returns once ``state`` has taken ``c`` (no signal)."""
        if state.count < self.warmup or state.atr.value is None or state.adx.value is None:
            return Direction.FLAT
        side = state.htf_structure.trend
        if side is Direction.FLAT:
            return side
        components = score_smc(state, c, side)
        enters = self._enters(components, to_confidence(sum(components.values())))
        return side if enters else Direction.FLAT

    def _decide(
        self, state: _SymbolState, c: Candle, side: Direction, atr: float, regime: Regime,
        adx: float,
    ) -> Signal:  # fmt: skip
        components = score_smc(state, c, side)
        confidence = to_confidence(sum(components.values()))
        direction = side if self._enters(components, confidence) else Direction.FLAT
        missing = [
            text for text, ok in (
                ("no OB/FVG touch", components["zone"] > 0),
                ("not in discount" if side is Direction.LONG else "not in premium",
                 components["fib"] > 0),
                (f"confidence {confidence} < {self.min_confidence}",
                 confidence >= self.min_confidence),
            ) if not ok
        ]  # fmt: skip
        scored = ", ".join(f"{k} {v:g}" for k, v in components.items() if v > 0)
        if missing:
            reason = f"HTF bias {side.value}: no entry ({'; '.join(missing)}) [{scored}]"
        else:
            reason = f"SMC {side.value}: {scored} (confidence {confidence})"
        leg = state.structure.leg()
        retraced = retracement(c.close, leg[0], leg[1], side) if leg else 0.0
        return Signal(
            symbol=c.symbol, direction=direction, confidence=confidence, price=c.close,
            ts_ms=c.close_time_ms, atr=atr, regime=regime, reason=reason,
            components={**components, "retracement": round(retraced, 6), "adx": adx},
        )  # fmt: skip

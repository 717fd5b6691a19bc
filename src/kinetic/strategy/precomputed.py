"""A symbol's state in a backtest as its series' per-bar values and the next bar's index
(``spot_trend``, ``futures_regime``: ``FeatureSeries``; ``confluence`` keeps its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kinetic.strategy.base import flat_signal
from kinetic.strategy.features import Features, FeatureState
from kinetic.strategy.replay import bar_candles

if TYPE_CHECKING:
    from kinetic.domain import Candle, Signal
    from kinetic.marketdata.files import CandleArrays
    from kinetic.strategy.features import FeatureParams

V = TypeVar("V")


@dataclass(slots=True)
class Precomputed(Generic[V]):
    """One symbol's state in a backtest: its series' per-bar values and the next bar.

    Bars ``0..cursor-1`` of ``arrays`` have been fed (stepped or fast-forwarded); the
    incremental state after them is only built when a candle or a stretch arrives that
    is not ``arrays``' bar ``cursor`` (the strategies' ``_materialise``).
    """

    arrays: CandleArrays
    values: V | None  # None once every bar was fed
    cursor: int = 0

    def move(self, cursor: int) -> None:
        """Bars up to ``cursor`` are fed; past the last one the values are let go."""
        self.cursor = cursor
        if cursor >= len(self.arrays):
            self.values = None

    def is_next(self, c: Candle) -> bool:
        """True when ``c`` is bar ``cursor`` of ``arrays`` (the values on_candle reads)."""
        a, i = self.arrays, self.cursor
        return (
            i < len(a) and c.open_time_ms == a.open_time_ms.item(i)
            and c.close == a.close.item(i) and c.high == a.high.item(i)
            and c.low == a.low.item(i) and c.open == a.open.item(i)
        )  # fmt: skip


class FeatureSeries:
    """A ``FeatureState`` per symbol live; in backtests the series' ``Precomputed`` values
    until a candle or a stretch is not the series' next bar (``spot_trend``,
    ``futures_regime``: their ``on_candle`` starts with ``_step``)."""

    name: str
    warmup: int
    _params: FeatureParams
    _states: dict[str, FeatureState]
    _pre: dict[str, Precomputed[Any]]

    def reset(self, symbol: str) -> None:
        """Forget the state of ``symbol``."""
        self._states.pop(symbol, None)
        self._pre.pop(symbol, None)

    def _keep(self, symbol: str, arrays: CandleArrays, values: object) -> None:
        """Keep ``arrays``' precomputed values as ``symbol``'s state if it has none yet."""
        pre = self._pre.get(symbol)
        if symbol not in self._states and (pre is None or pre.cursor == 0):
            self._pre[symbol] = Precomputed(arrays, values)

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Advance ``symbol``'s indicators over bars ``start..stop-1`` exactly."""
        pre = self._pre.get(symbol)
        if pre is not None:
            if stop <= start:
                return
            if arrays is pre.arrays and start == pre.cursor and stop <= len(arrays):
                pre.move(stop)
                return
            self._materialise(symbol)
        state = self._states.get(symbol)
        if state is None or state.count < self.warmup:
            raise ValueError(f"{self.name}: only a warm state is fast-forwarded")
        state.feed(arrays, start, stop)

    def _materialise(self, symbol: str) -> None:
        """Replace ``symbol``'s precomputed series by the incremental state after its bars
        ``0..cursor-1`` (a candle or a stretch that is not the series' next bar)."""
        pre = self._pre.pop(symbol)
        self._states.pop(symbol, None)
        if not pre.cursor:
            return
        state = self._states[symbol] = FeatureState(self._params)
        warm = min(pre.cursor, self.warmup + 1)
        for candle in bar_candles(pre.arrays, 0, warm):
            state.update(candle)
        state.feed(pre.arrays, warm, pre.cursor)

    def _looked_up(self, pre: Precomputed[Any], candle: Candle) -> Signal:
        raise NotImplementedError

    def _step(self, candle: Candle) -> Signal | Features:
        """``on_candle``'s start: the looked-up signal of the series' next bar, else the
        features of the incremental state (a FLAT signal while it warms up)."""
        pre = self._pre.get(candle.symbol)
        if pre is not None:
            if pre.is_next(candle):
                return self._looked_up(pre, candle)
            self._materialise(candle.symbol)
        state = self._states.get(candle.symbol)
        if state is None:
            state = self._states[candle.symbol] = FeatureState(self._params)
        f = state.update(candle)
        if f is None:
            return flat_signal(candle, f"warming up ({state.count}/{self.warmup})")
        return f

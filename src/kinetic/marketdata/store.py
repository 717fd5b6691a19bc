"""CandleStore: a rolling window of closed candles per symbol.

Consumers keep their own cursor (the open time of the last candle they saw) and ask
for what came after it, so every consumer sees every closed candle exactly once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from kinetic.domain import Candle
from kinetic.venues.base.errors import StaleDataError


class CandleStore:
    """Closed candles per symbol, at most ``maxlen`` kept per symbol."""

    def __init__(
        self, maxlen: int = 1000, market_time_ms: Callable[[], int | None] | None = None
    ) -> None:
        self._maxlen = maxlen
        # replay: the feed's time; staleness is judged on it, not on a clock ahead of it
        self._market_time_ms = market_time_ms
        self._candles: dict[str, deque[Candle]] = {}
        # told of every new closed candle (metrics: candle-to-order latency); set by the
        # composition root, must be quick and must not raise
        self.on_add: Callable[[Candle], None] | None = None

    def add(self, candle: Candle) -> bool:
        """Append a closed candle; duplicates and out-of-order candles are ignored."""
        window = self._candles.get(candle.symbol)
        if window is None:
            window = self._candles[candle.symbol] = deque(maxlen=self._maxlen)
        elif window and candle.open_time_ms <= window[-1].open_time_ms:
            return False
        window.append(candle)
        if self.on_add is not None:
            self.on_add(candle)
        return True

    def symbols(self) -> list[str]:
        return list(self._candles)

    def last(self, symbol: str) -> Candle | None:
        window = self._candles.get(symbol)
        return window[-1] if window else None

    def window(self, symbol: str) -> list[Candle]:
        return list(self._candles.get(symbol, ()))

    def since(self, symbol: str, after_open_ms: int) -> list[Candle]:
        """Candles with open time strictly after ``after_open_ms``, oldest first."""
        window = self._candles.get(symbol)
        if not window:
            return []
        last = window[-1]
        if last.open_time_ms <= after_open_ms:
            return []
        if len(window) == 1 or window[-2].open_time_ms <= after_open_ms:
            return [last]  # the usual case: one new candle
        out: list[Candle] = []
        for candle in reversed(window):
            if candle.open_time_ms <= after_open_ms:
                break
            out.append(candle)
        out.reverse()
        return out

    def require_fresh(self, symbol: str, now_ms: int, tolerance_s: float) -> Candle:
        """Return the last candle, or raise ``StaleDataError`` if the next one is overdue.

        The next closed candle is due one interval after the last one closed; data is
        stale when it is more than ``tolerance_s`` late. With ``market_time_ms`` (replay)
        ``now_ms`` is capped at the time the feed has published up to.
        """
        if self._market_time_ms is not None and (market := self._market_time_ms()) is not None:
            now_ms = min(now_ms, market)
        candle = self.last(symbol)
        if candle is None:
            raise StaleDataError(f"{symbol}: no candles yet")
        interval_ms = candle.close_time_ms - candle.open_time_ms + 1
        overdue_s = (now_ms - candle.close_time_ms - interval_ms) / 1000.0
        if overdue_s > tolerance_s:
            raise StaleDataError(
                f"{symbol}: next candle is {overdue_s:.0f}s overdue (> {tolerance_s:.0f}s)"
            )
        return candle

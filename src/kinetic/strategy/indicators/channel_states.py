"""Incremental (O(1) amortised per candle) twins of the ``channels`` indicators.

Rolling extremes use monotonic deques (each value enters and leaves once); rolling sums
keep a running total that is re-summed exactly every ``n`` updates so rounding drift
cannot build up over a long live session.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from kinetic.strategy.indicators.incremental import ATRState, EMAState


class StochasticValue(NamedTuple):
    """%K and %D after one bar."""

    k: float
    d: float


class ChannelValue(NamedTuple):
    """Upper, middle and lower band after one bar."""

    upper: float
    middle: float
    lower: float


def _check(n: int) -> None:
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")


class RollingExtreme:
    """Rolling maximum (or minimum) of the last ``n`` values."""

    __slots__ = ("_count", "_items", "_sign", "n")

    def __init__(self, n: int, maximum: bool = True) -> None:
        _check(n)
        self.n = n
        self._sign = 1.0 if maximum else -1.0
        self._items: deque[tuple[int, float]] = deque()
        self._count = 0

    def update(self, value: float) -> float | None:
        """Feed one value; return the extreme of the last ``n`` once ``n`` were seen."""
        key = self._sign * value
        items = self._items
        while items and self._sign * items[-1][1] <= key:
            items.pop()
        items.append((self._count, value))
        if items[0][0] <= self._count - self.n:
            items.popleft()
        self._count += 1
        return items[0][1] if self._count >= self.n else None


class RollingSum:
    """Sum of the last ``n`` values; exactly 0 when they all are (no rounding residue)."""

    __slots__ = ("_nonzero", "_sum", "_updates", "_window", "n")

    def __init__(self, n: int) -> None:
        _check(n)
        self.n = n
        self._window: deque[float] = deque(maxlen=n)
        self._sum = 0.0
        self._nonzero = 0
        self._updates = 0

    def update(self, value: float) -> float | None:
        """Feed one value; return the sum of the last ``n`` once warm."""
        if len(self._window) == self.n:
            old = self._window[0]
            self._sum -= old
            self._nonzero -= old != 0.0
        self._window.append(value)
        self._sum += value
        self._nonzero += value != 0.0
        self._updates += 1
        if self._updates % self.n == 0:
            self._sum = math.fsum(self._window)  # drop accumulated rounding drift
        if self._nonzero == 0:
            self._sum = 0.0
        return self._sum if len(self._window) == self.n else None


class StochasticState:
    """Stochastic %K over ``n`` bars and %D = SMA(``smooth``) of %K."""

    __slots__ = ("_hh", "_ks", "_ll", "value")

    def __init__(self, n: int = 14, smooth: int = 3) -> None:
        self._hh = RollingExtreme(n, maximum=True)
        self._ll = RollingExtreme(n, maximum=False)
        self._ks = RollingSum(smooth)
        self.value: StochasticValue | None = None

    def update(self, high: float, low: float, close: float) -> StochasticValue | None:
        """Feed one bar; return ``(k, d)`` once %D is warm."""
        hh, ll = self._hh.update(high), self._ll.update(low)
        if hh is None or ll is None:
            return None
        rng = hh - ll
        k = 100.0 * ((close - ll) / rng) if rng != 0 else 50.0
        total = self._ks.update(k)
        self.value = None if total is None else StochasticValue(k, total / self._ks.n)
        return self.value


class OBVState:
    """On-balance volume; the first bar adds its volume (``ta``)."""

    __slots__ = ("_prev", "value")

    def __init__(self) -> None:
        self._prev: float | None = None
        self.value = 0.0

    def update(self, close: float, volume: float) -> float:
        """Feed one bar; return the running OBV."""
        down = self._prev is not None and close < self._prev
        self.value += -volume if down else volume
        self._prev = close
        return self.value


class VWAPState:
    """Rolling VWAP of the typical price over ``n`` bars (``ta``'s window form)."""

    __slots__ = ("_pv", "_vol", "value")

    def __init__(self, n: int = 14) -> None:
        self._pv = RollingSum(n)
        self._vol = RollingSum(n)
        self.value: float | None = None

    def update(self, high: float, low: float, close: float, volume: float) -> float | None:
        """Feed one bar; return the VWAP once warm (None while the window has no volume)."""
        typical = (high + low + close) / 3.0
        pv, vol = self._pv.update(typical * volume), self._vol.update(volume)
        self.value = None if pv is None or vol is None or vol == 0 else pv / vol
        return self.value


class DonchianState:
    """Donchian channel over ``n`` bars."""

    __slots__ = ("_hh", "_ll", "value")

    def __init__(self, n: int = 20) -> None:
        self._hh = RollingExtreme(n, maximum=True)
        self._ll = RollingExtreme(n, maximum=False)
        self.value: ChannelValue | None = None

    def update(self, high: float, low: float) -> ChannelValue | None:
        """Feed one bar; return ``(upper, middle, lower)`` once warm."""
        hh, ll = self._hh.update(high), self._ll.update(low)
        if hh is None or ll is None:
            return None
        self.value = ChannelValue(hh, (hh - ll) / 2.0 + ll, ll)
        return self.value


class KeltnerState:
    """Keltner channel: EMA(close, ``n``) +/- ``multiplier`` * ATR(``n_atr``)."""

    __slots__ = ("_atr", "_ema", "multiplier", "value")

    def __init__(self, n: int = 20, n_atr: int = 10, multiplier: float = 2.0) -> None:
        self._ema = EMAState(n)
        self._atr = ATRState(n_atr)
        self.multiplier = multiplier
        self.value: ChannelValue | None = None

    def update(self, high: float, low: float, close: float) -> ChannelValue | None:
        """Feed one bar; return ``(upper, middle, lower)`` once EMA and ATR are warm."""
        mid = self._ema.update(close)
        atr = self._atr.update(high, low, close)
        if mid is None or atr is None:
            return None
        width = self.multiplier * atr
        self.value = ChannelValue(mid + width, mid, mid - width)
        return self.value

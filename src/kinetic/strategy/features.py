"""Per-symbol incremental indicator bundle shared by the strategies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from kinetic.domain import Candle
from kinetic.strategy.indicators import (
    ADXState,
    ATRState,
    BollingerState,
    EMAState,
    MACDState,
    RSIState,
)
from kinetic.strategy.indicators.incremental import F64

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays


@dataclass(frozen=True, slots=True)
class Features:
    """Indicator values after one candle (all warm)."""

    close: float
    ema_fast: float
    ema_slow: float
    prev_ema_fast: float | None
    prev_ema_slow: float | None
    rsi: float
    atr: float
    adx: float
    plus_di: float
    minus_di: float
    macd_hist: float
    bb_mid: float
    bb_upper: float
    bb_lower: float

    @property
    def crossed_below(self) -> bool:
        """Return True when the fast EMA crossed below the slow one on this candle."""
        if self.prev_ema_fast is None or self.prev_ema_slow is None:
            return False
        return self.prev_ema_fast >= self.prev_ema_slow and self.ema_fast < self.ema_slow


@dataclass(frozen=True, slots=True)
class FeatureParams:
    fast: int = 20
    slow: int = 50
    rsi_period: int = 14
    adx_period: int = 14
    atr_period: int = 14
    bb_period: int = 20
    bb_std: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={self.fast} slow={self.slow}")

    @property
    def warmup(self) -> int:
        """Return the candles needed before every indicator is defined."""
        macd_ready = 26 + 9 - 1
        return max(
            self.slow, 2 * self.adx_period, self.rsi_period, self.atr_period,
            self.bb_period, macd_ready,
        )  # fmt: skip


class FeatureState:
    """All incremental indicators of one symbol; O(1) per candle."""

    __slots__ = (
        "_adx", "_atr", "_bb", "_fast", "_macd", "_prev", "_rsi", "_slow", "count", "last_ms",
    )  # fmt: skip

    def __init__(self, p: FeatureParams) -> None:
        self._fast = EMAState(p.fast)
        self._slow = EMAState(p.slow)
        self._rsi = RSIState(p.rsi_period)
        self._atr = ATRState(p.atr_period)
        self._adx = ADXState(p.adx_period)
        self._macd = MACDState()
        self._bb = BollingerState(p.bb_period, p.bb_std)
        self._prev: tuple[float | None, float | None] = (None, None)
        self.count = 0
        self.last_ms: int | None = None

    def update(self, c: Candle) -> Features | None:
        """Feed one closed candle; return the features once all indicators are warm."""
        if self.last_ms is not None and c.open_time_ms <= self.last_ms:
            raise ValueError(
                f"{c.symbol}: candle {c.open_time_ms} is not after the last one {self.last_ms}"
            )
        self.last_ms = c.open_time_ms
        self.count += 1
        prev_fast, prev_slow = self._prev
        fast, slow = self._fast.update(c.close), self._slow.update(c.close)
        self._prev = (fast, slow)
        rsi = self._rsi.update(c.close)
        atr = self._atr.update(c.high, c.low, c.close)
        adx = self._adx.update(c.high, c.low, c.close)
        macd = self._macd.update(c.close)
        bb = self._bb.update(c.close)
        if (
            fast is None or slow is None or rsi is None or atr is None
            or adx is None or macd is None or bb is None
        ):  # fmt: skip
            return None
        return Features(
            close=c.close, ema_fast=fast, ema_slow=slow, prev_ema_fast=prev_fast,
            prev_ema_slow=prev_slow, rsi=rsi, atr=atr, adx=adx.adx, plus_di=adx.plus_di,
            minus_di=adx.minus_di, macd_hist=macd.hist, bb_mid=bb.mid, bb_upper=bb.upper,
            bb_lower=bb.lower,
        )  # fmt: skip

    def feed(
        self, arrays: CandleArrays, start: int, stop: int, track: bool = False
    ) -> Tracked | None:
        """``update`` on bars ``start..stop-1`` of ``arrays``, exactly, without stepping.

        The state must be warm (``count >= warmup``): every indicator is then past its
        seeding and each ``feed`` reproduces its ``update`` bit for bit. With ``track``,
        return the features ``update`` would have returned on each bar (those
        ``confluence`` and ``spot_trend`` read; not the Bollinger bands, which only keep
        their last window).
        """
        if stop <= start:
            return None
        last = int(arrays.open_time_ms[stop - 1])
        if self.last_ms is not None and int(arrays.open_time_ms[start]) <= self.last_ms:
            raise ValueError(f"bar {start} is not after the last one fed")
        high, low = arrays.high[start:stop], arrays.low[start:stop]
        close = arrays.close[start:stop]
        fast = self._fast.feed(close, track)
        slow = self._slow.feed(close, track)
        self._prev = (self._fast.value, self._slow.value)
        rsi = self._rsi.feed(close, track)
        atr = self._atr.feed(high, low, close, track)
        adx, pdi, mdi = (
            self._adx.feed_di(high, low, close) if track
            else (self._adx.feed(high, low, close), None, None)
        )  # fmt: skip
        hist = self._macd.feed(close, track)
        self._bb.feed(close)
        self.count += stop - start
        self.last_ms = last
        if not track:
            return None
        parts = (fast, slow, rsi, atr, adx, hist, pdi, mdi)
        if any(x is None for x in parts):
            raise AssertionError("a warm state tracks every value")
        return Tracked(*(np.asarray(x, np.float64) for x in parts))


class Tracked(NamedTuple):
    """Per-bar features from ``FeatureState.feed(track=True)``."""

    ema_fast: F64
    ema_slow: F64
    rsi: F64
    atr: F64
    adx: F64
    macd_hist: F64
    plus_di: F64
    minus_di: F64

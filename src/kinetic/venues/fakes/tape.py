"""A candle tape for the fake venues: recorded candles replayed on a market clock.

The tape takes one candle series per symbol (read from ``.csv[.gz]`` files with
``kinetic.marketdata.files``) and re-stamps it so that, when the venue starts, the first
``history`` candles are closed history ending at the current wall-clock interval and the
rest is the future. The market clock then runs at ``speed`` market seconds per wall
second from that moment: at speed 1 candles close on the real interval boundaries; at
speed 60 a 5m candle closes every 5 wall seconds (its time stamps then run ahead of the
wall clock).

Bars of any interval that is a multiple of the file's interval are aggregated; shorter
intervals that divide it are interpolated (open to close, the high and low placed in the
middle sub-bar). When the file is used up the tape stops: no new candles, the last price
stays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from kinetic.marketdata.files import CandleArrays, read_candles

DEFAULT_HISTORY = 1000
Bar = tuple[int, float, float, float, float, float]  # open ms, o, h, l, c, volume


@dataclass(frozen=True, slots=True)
class Series:
    """One symbol's candles (already re-stamped), prices rounded to ``decimals``."""

    interval_ms: int
    first_open_ms: int
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.open.shape[0])


def symbol_of_file(path: Path) -> str:
    """Guess the symbol from a file name (``BTCUSDT_5m.csv.gz``, ``binance_ETHUSDT_1m_...``)."""
    for part in path.name.split(".")[0].split("_"):
        if part.isupper() and part.isalpha() and len(part) >= 5:
            return part
    raise ValueError(f"{path.name}: no symbol in the file name (e.g. BTCUSDT_5m.csv.gz)")


class Tape:
    """Closed candles and the last price of every symbol at the market clock's now."""

    def __init__(
        self,
        arrays: dict[str, CandleArrays],
        *,
        speed: float = 1.0,
        history: int = DEFAULT_HISTORY,
        wall_start_ms: int | None = None,
        derived: dict[str, tuple[str, Decimal, int]] | None = None,
    ) -> None:
        """``derived`` maps a symbol without a file to (source symbol, price, decimals)."""
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self.wall_start_ms = wall_start_ms if wall_start_ms is not None else _wall_ms()
        self.series: dict[str, Series] = {}
        self._start: dict[str, int] = {}
        for symbol, arr in arrays.items():
            if len(arr) < 2:
                raise ValueError(f"{symbol}: the candle file holds fewer than 2 candles")
            start = min(history, len(arr) - 1)
            anchor = self.wall_start_ms // arr.interval_ms * arr.interval_ms
            self.series[symbol] = Series(
                arr.interval_ms,
                anchor - start * arr.interval_ms,
                arr.open,
                arr.high,
                arr.low,
                arr.close,
                arr.volume,
            )
            self._start[symbol] = start
        for symbol, (source, price, decimals) in (derived or {}).items():
            self._derive(symbol, source, price, decimals)

    def _derive(self, symbol: str, source: str, price: Decimal, decimals: int) -> None:
        src = self.series[source]
        start = self._start[source]
        factor = float(price) / float(src.close[start - 1])
        o, h, lo, c = (
            np.round(a * factor, decimals) for a in (src.open, src.high, src.low, src.close)
        )
        self.series[symbol] = Series(src.interval_ms, src.first_open_ms, o, h, lo, c, src.volume)
        self._start[symbol] = start

    @classmethod
    def from_files(
        cls,
        files: list[Path],
        *,
        speed: float = 1.0,
        history: int = DEFAULT_HISTORY,
        derived: dict[str, tuple[str, Decimal, int]] | None = None,
    ) -> Tape:
        """Read one file per symbol (symbol taken from the file name)."""
        arrays = {}
        for path in files:
            symbol = symbol_of_file(path)
            arrays[symbol] = read_candles(path, symbol)
        usable = {k: v for k, v in (derived or {}).items() if k not in arrays and v[0] in arrays}
        return cls(arrays, speed=speed, history=history, derived=usable)

    # ------------------------------------------------------------------ clock
    def market_now_ms(self, wall_ms: int | None = None) -> int:
        """Return the market clock's now (ms) for a wall time (default: now)."""
        wall = _wall_ms() if wall_ms is None else wall_ms
        return self.wall_start_ms + int((wall - self.wall_start_ms) * self.speed)

    def closed_count(self, symbol: str, market_ms: int | None = None) -> int:
        """How many of ``symbol``'s file candles have closed at the market time."""
        s = self.series[symbol]
        now = self.market_now_ms() if market_ms is None else market_ms
        return max(0, min(len(s), (now - s.first_open_ms) // s.interval_ms))

    def last_close(self, symbol: str, market_ms: int | None = None) -> float:
        """The close of the last closed candle (the venue's last price)."""
        n = self.closed_count(symbol, market_ms)
        return float(self.series[symbol].close[max(n - 1, 0)])

    # ------------------------------------------------------------------ bars
    def bars(
        self,
        symbol: str,
        interval_ms: int,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
        with_forming: bool = True,
        market_ms: int | None = None,
    ) -> list[Bar]:
        """Closed bars of ``interval_ms`` (plus the forming one), oldest first.

        Without ``start_ms`` the last ``limit`` are returned, else the first ``limit``
        from ``start_ms`` on.
        """
        s = self.series[symbol]
        self._check_interval(s, interval_ms)
        now = self.market_now_ms() if market_ms is None else market_ms
        first = -(-s.first_open_ms // interval_ms) * interval_ms
        current = now // interval_ms * interval_ms  # the forming bar's open
        last_open = current if with_forming else current - interval_ms
        if end_ms is not None:
            last_open = min(last_open, end_ms // interval_ms * interval_ms)
        lo = first if start_ms is None else max(first, -(-start_ms // interval_ms) * interval_ms)
        if start_ms is None:
            lo = max(lo, last_open - (limit - 1) * interval_ms)
        out: list[Bar] = []
        t = lo
        while t <= last_open and len(out) < limit:
            bar = self.bar(symbol, interval_ms, t, now)
            if bar is not None:
                out.append(bar)
            t += interval_ms
        return out

    def bar(self, symbol: str, interval_ms: int, open_ms: int, market_ms: int) -> Bar | None:
        """The bar opening at ``open_ms`` as known at ``market_ms`` (None: no data)."""
        s = self.series[symbol]
        closed = self.closed_count(symbol, market_ms)
        if interval_ms >= s.interval_ms:
            i0 = (open_ms - s.first_open_ms) // s.interval_ms
            i1 = min(i0 + interval_ms // s.interval_ms, closed + 1, len(s))
            i0 = max(i0, 0)
            if i1 <= i0:
                return None
            if i1 > closed:  # the forming base candle: only its open is known
                return self._forming(s, i0, i1, closed, open_ms)
            return (
                open_ms,
                float(s.open[i0]),
                float(s.high[i0:i1].max()),
                float(s.low[i0:i1].min()),
                float(s.close[i1 - 1]),
                float(s.volume[i0:i1].sum()),
            )
        return self._sub_bar(s, interval_ms, open_ms, closed)

    @staticmethod
    def _forming(s: Series, i0: int, i1: int, closed: int, open_ms: int) -> Bar:
        if closed <= i0:
            px = float(s.open[min(i0, len(s) - 1)])
            return (open_ms, px, px, px, px, 0.0)
        return (
            open_ms,
            float(s.open[i0]),
            float(s.high[i0:closed].max()),
            float(s.low[i0:closed].min()),
            float(s.close[closed - 1]),
            float(s.volume[i0:closed].sum()),
        )

    @staticmethod
    def _sub_bar(s: Series, interval_ms: int, open_ms: int, closed: int) -> Bar | None:
        i = (open_ms - s.first_open_ms) // s.interval_ms
        if i < 0 or i >= min(closed + 1, len(s)):
            return None
        k = s.interval_ms // interval_ms
        j = (open_ms - s.first_open_ms - i * s.interval_ms) // interval_ms
        o, c = float(s.open[i]), float(s.close[i])
        if i >= closed:  # forming base candle: flat at its open
            return (open_ms, o, o, o, o, 0.0)
        a, b = o + (c - o) * j / k, o + (c - o) * (j + 1) / k
        high, low = max(a, b), min(a, b)
        if j == k // 2:
            high, low = float(s.high[i]), float(s.low[i])
        return (open_ms, a, high, low, b, float(s.volume[i]) / k)

    @staticmethod
    def _check_interval(s: Series, interval_ms: int) -> None:
        ok = (interval_ms % s.interval_ms == 0) or (s.interval_ms % interval_ms == 0)
        if interval_ms <= 0 or not ok:
            raise ValueError(f"interval {interval_ms} ms does not fit the file's {s.interval_ms}")


def _wall_ms() -> int:
    return int(time.time() * 1000)

"""ReplayFeed: publish recorded closed candles as the (simulated) clock passes their close.

Each candle is delivered to every subscriber exactly once, in close-time order across
all (market, symbol) series. The first ``warmup`` candles of every series are
delivered at once on ``prime()`` so strategies start warm.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kinetic.clock import Clock
from kinetic.domain import Candle
from kinetic.logging import get_logger
from kinetic.marketdata.files import CandleArrays, read_candles

Subscriber = Callable[[str, Candle], None]
log = get_logger(component="replay_feed")


@dataclass
class _Series:
    market: str
    data: CandleArrays
    pos: int = 0

    def next_close_ms(self) -> int | None:
        if self.pos >= len(self.data):
            return None
        return int(self.data.open_time_ms[self.pos]) + self.data.interval_ms - 1


@dataclass
class ReplayFeed:
    """Deliver candles of several series as the clock passes each candle's close time."""

    clock: Clock
    series: list[_Series] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)
    delivered: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # the market time every candle has been published up to (None before the first pass)
    published_ms: int | None = None

    def add_series(self, market: str, data: CandleArrays) -> None:
        self.series.append(_Series(market, data))

    def subscribe(self, fn: Subscriber) -> None:
        self.subscribers.append(fn)

    def prime(self, warmup: int) -> int | None:
        """Deliver the first ``warmup`` candles of each series; return the replay start (ms)."""
        for s in self.series:
            for _ in range(min(warmup, len(s.data))):
                self._deliver(s)
        closes = [c for s in self.series if (c := s.next_close_ms()) is not None]
        return min(closes) if closes else None

    def _deliver(self, s: _Series) -> None:
        candle = s.data.candle(s.pos)
        s.pos += 1
        self.delivered += 1
        for fn in self.subscribers:
            fn(s.market, candle)

    def publish_due(self, now_ms: int) -> int:
        """Deliver every candle that closed at or before ``now_ms``, in close order."""
        heap = [(c, i) for i, s in enumerate(self.series) if (c := s.next_close_ms()) is not None]
        heapq.heapify(heap)
        self.published_ms = max(now_ms, self.published_ms or now_ms)
        count = 0
        while heap and heap[0][0] <= now_ms:
            _, i = heapq.heappop(heap)
            self._deliver(self.series[i])
            count += 1
            nxt = self.series[i].next_close_ms()
            if nxt is not None:
                heapq.heappush(heap, (nxt, i))
        return count

    def market_time_ms(self) -> int | None:
        """The replay (market) time the data is complete up to, for staleness checks.

        The ``ScaledClock`` runs on wall time; at a high ``replay_speed`` a busy event loop
        lets it run ahead of this feed (at 1,000,000x one millisecond of lag is 1,000
        market seconds). Candles are never late in a recording, so staleness in replay
        is judged on this time: only a gap in the recorded data makes a symbol stale.
        """
        return self.published_ms

    def next_due_ms(self) -> int | None:
        closes = [c for s in self.series if (c := s.next_close_ms()) is not None]
        return min(closes) if closes else None

    async def run(self) -> None:
        """Publish candles until every series is exhausted."""
        while True:
            self.publish_due(self.clock.time_ms())
            due = self.next_due_ms()
            if due is None:
                break
            await self.clock.sleep(max(0.0, (due - self.clock.time_ms()) / 1000.0))
        log.info("replay finished: no more recorded candles", candles=self.delivered)
        self.finished.set()


def discover_replay_files(data_dir: str | Path, market: str, timeframe: str) -> dict[str, Path]:
    """Map symbol -> file for ``<data_dir>/<market>/<SYMBOL>_<timeframe>.{csv.gz,csv,parquet}``.

    Where a symbol has several, the Parquet file wins (it is the one ``data`` writes).
    """
    folder = Path(data_dir) / market
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir()):
        name = path.name
        for ext in (".csv.gz", ".csv", ".parquet"):
            suffix = f"_{timeframe}{ext}"
            if name.endswith(suffix):
                out[name[: -len(suffix)]] = path
    return out


def load_series(files: dict[str, Path]) -> dict[str, CandleArrays]:
    return {symbol: read_candles(path, symbol) for symbol, path in files.items()}

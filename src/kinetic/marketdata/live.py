"""LiveFeed: closed candles from real venues (paper and live modes).

A ``CandleSource`` runs until cancelled and hands every closed candle to ``emit``
exactly once, oldest first per symbol (the venue stream classes handle reconnects,
REST backfill of gaps and de-duplication). The feed first warms each symbol up from
REST history, then runs the sources as named tasks it owns, and fans candles out to
subscribers (the CandleStore, and the SimExchange in paper mode).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from kinetic.clock import Clock
from kinetic.domain import Candle
from kinetic.logging import get_logger
from kinetic.venues.base.errors import VenueError

Emit = Callable[[Candle], None]
Subscriber = Callable[[str, Candle], None]
log = get_logger(component="live_feed")


class CandleSource(Protocol):
    """Closed candles of one market, forever."""

    async def run(self, emit: Emit) -> None: ...


class KlineHistory(Protocol):
    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]: ...


class PollingCandleSource:
    """Poll REST klines for new closed candles (venues without a candle stream).

    Used for Kraken Futures, whose public feeds carry no candles, and as a fallback.
    """

    def __init__(
        self,
        history: KlineHistory,
        symbols: list[str],
        interval: str,
        clock: Clock,
        poll_seconds: float = 10.0,
    ) -> None:
        self.history, self.symbols, self.interval = history, symbols, interval
        self.clock, self.poll_seconds = clock, poll_seconds
        self.last_open_ms: dict[str, int] = {}

    async def run(self, emit: Emit) -> None:
        while True:
            for symbol in self.symbols:
                await self._poll(symbol, emit)
            await self.clock.sleep(self.poll_seconds)

    async def _poll(self, symbol: str, emit: Emit) -> None:
        last = self.last_open_ms.get(symbol)
        try:
            candles = await self.history.get_klines(
                symbol, self.interval, 500, None if last is None else last + 1
            )
        except VenueError as exc:
            log.warning("kline poll failed", symbol=symbol, error=str(exc))
            return
        for candle in candles:
            if last is None or candle.open_time_ms > last:
                emit(candle)
                last = candle.open_time_ms
        if last is not None:
            self.last_open_ms[symbol] = last


@dataclass
class LiveFeed:
    """Warm up from REST, then fan out candles from the market sources."""

    sources: dict[str, CandleSource]
    subscribers: list[Subscriber] = field(default_factory=list)
    delivered: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _last: dict[tuple[str, str], int] = field(default_factory=dict)

    def subscribe(self, fn: Subscriber) -> None:
        self.subscribers.append(fn)

    def deliver(self, market: str, candle: Candle) -> None:
        """Hand one closed candle to every subscriber, once (late duplicates dropped)."""
        key = (market, candle.symbol)
        if candle.open_time_ms <= self._last.get(key, -1):
            return
        self._last[key] = candle.open_time_ms
        self.delivered += 1
        for fn in self.subscribers:
            fn(market, candle)

    async def warm_up(
        self, market: str, history: KlineHistory, symbols: list[str], interval: str, count: int
    ) -> dict[str, int]:
        """Deliver the last ``count`` closed candles per symbol; return each last open time."""
        last: dict[str, int] = {}
        for symbol in symbols:
            candles = await history.get_klines(symbol, interval, min(max(count, 1), 1000))
            for candle in candles:
                self.deliver(market, candle)
            if candles:
                last[symbol] = candles[-1].open_time_ms
        return last

    def start(self) -> None:
        """Run every source as a named task owned by the feed."""
        for market, source in self.sources.items():
            task = asyncio.create_task(self._run(market, source), name=f"live-feed:{market}")
            self._tasks.append(task)

    async def _run(self, market: str, source: CandleSource) -> None:
        try:
            await source.run(lambda candle: self.deliver(market, candle))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("candle source failed; the engines will see stale data", market=market)
            raise

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

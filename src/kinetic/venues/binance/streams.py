"""Binance market streams: closed klines (and last-price tickers) over a combined stream.

``MarketStream`` keeps one combined-stream connection (spot ``/stream?streams=...``,
USD-M ``/market/stream?streams=...``; the USD-M ``/market`` route is required since
2026-04-23). It:

* delivers each closed candle (``"x": true``) exactly once, oldest first, per symbol;
* reconnects with backoff + jitter on the injected clock when the connection drops or
  goes silent (aiohttp heartbeat pings; no pong -> closed), resubscribing the same
  streams, and forces a reconnect before the venue's 24 h limit;
* after every (re)connect backfills the candles missed while disconnected over REST
  (``get_klines(start_ms=...)``) and de-duplicates against what was already delivered;
* yields to the event loop every ``yield_every`` messages so a burst cannot stall it.

Its one task is named, owned, and cancelled by ``stop()``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import aiohttp

from kinetic.clock import Clock
from kinetic.domain import Candle
from kinetic.logging import get_logger
from kinetic.tasks import cancel_and_wait
from kinetic.venues.base.errors import VenueError
from kinetic.venues.http import RetryPolicy

SPOT_STREAM_URL = "wss://stream.binance.com:9443/stream"
FUTURES_STREAM_URL = "wss://fstream.binance.com/market/stream"
MAX_CONNECTION_SECONDS = 23.5 * 3600

CandleHandler = Callable[[Candle], Awaitable[None]]
TickerHandler = Callable[[str, Decimal], Awaitable[None]]


class KlineSource(Protocol):
    """The REST side used for backfill (both Binance clients satisfy it)."""

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]: ...


def parse_kline_event(data: Any) -> tuple[Candle, bool] | None:
    """Return ``(candle, closed)`` from a kline event, or ``None`` if malformed."""
    try:
        k = data["k"]
        candle = Candle(
            str(k["s"]),
            int(k["t"]),
            int(k["T"]),
            float(k["o"]),
            float(k["h"]),
            float(k["l"]),
            float(k["c"]),
            float(k["v"]),
        )
        return candle, bool(k["x"])
    except (KeyError, TypeError, ValueError):
        return None


class MarketStream:
    """Closed candles and ticker prices for ``symbols`` from one combined stream."""

    def __init__(
        self,
        url: str,
        symbols: Sequence[str],
        interval: str,
        clock: Clock,
        source: KlineSource,
        on_candle: CandleHandler,
        *,
        on_ticker: TickerHandler | None = None,
        heartbeat_seconds: float = 20.0,
        max_connection_seconds: float = MAX_CONNECTION_SECONDS,
        retry: RetryPolicy | None = None,
        yield_every: int = 10,
        name: str = "binance-market-stream",
    ) -> None:
        self.url, self.symbols, self.interval = url, list(symbols), interval
        self.clock, self.source = clock, source
        self.on_candle, self.on_ticker = on_candle, on_ticker
        self.heartbeat_seconds = heartbeat_seconds
        self.max_connection_seconds = max_connection_seconds
        self.retry = retry or RetryPolicy(max_attempts=1_000_000, base_seconds=1, cap_seconds=60)
        self.yield_every = max(1, yield_every)
        self.name = name
        self.last_open_ms: dict[str, int] = {}
        self.connects = 0
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._log = get_logger(component=name)

    @property
    def streams(self) -> list[str]:
        """Return the stream names subscribed to (lower-case symbols)."""
        out = [f"{s.lower()}@kline_{self.interval}" for s in self.symbols]
        if self.on_ticker is not None:
            out += [f"{s.lower()}@ticker" for s in self.symbols]
        return out

    def start(self) -> None:
        """Start the owned connection task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)
            self._task.add_done_callback(self._on_done)

    async def stop(self) -> None:
        """Cancel the task and close the session."""
        await cancel_and_wait(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("market stream task died", error=repr(task.exception()))

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession()
        failures = 0
        while True:
            try:
                got_data = await self._connection(self._session)
            except (aiohttp.ClientError, TimeoutError, VenueError) as exc:
                self._log.warning("market stream failed", error=type(exc).__name__)
                got_data = False
            failures = 0 if got_data else failures + 1
            await self.clock.sleep(self.retry.delay(min(failures, 10)))

    async def _connection(self, session: aiohttp.ClientSession) -> bool:
        """Run one connection until it ends; return True if it delivered anything."""
        url = f"{self.url}?streams={'/'.join(self.streams)}"
        async with session.ws_connect(url, heartbeat=self.heartbeat_seconds) as ws:
            self.connects += 1
            opened = self.clock.time()
            delivered = await self._backfill()
            count = 0
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                delivered = await self._handle(msg.data) or delivered
                count += 1
                if count % self.yield_every == 0:
                    await asyncio.sleep(0)  # let other tasks run during a burst
                if self.clock.time() - opened >= self.max_connection_seconds:
                    self._log.info("forced reconnect before the 24 h connection limit")
                    break
            return delivered or count > 0

    async def _backfill(self) -> bool:
        """Fetch candles closed since the last delivered one (after a reconnect)."""
        any_new = False
        for symbol in self.symbols:
            last = self.last_open_ms.get(symbol)
            if last is None:
                continue
            for candle in await self.source.get_klines(symbol, self.interval, 1000, last + 1):
                any_new = await self._deliver(candle) or any_new
        return any_new

    async def _handle(self, text: str) -> bool:
        try:
            envelope = json.loads(text)
            stream, data = str(envelope["stream"]), envelope["data"]
        except (ValueError, KeyError, TypeError):
            self._log.warning("malformed stream message skipped", venue="binance")
            return False
        if "@kline_" in stream:
            parsed = parse_kline_event(data)
            if parsed is None:
                self._log.warning("malformed kline skipped", venue="binance", stream=stream)
                return False
            return parsed[1] and await self._deliver(parsed[0])
        if stream.endswith("@ticker") and self.on_ticker is not None:
            return await self._ticker(data)
        return False

    async def _ticker(self, data: Any) -> bool:
        try:
            symbol, price = str(data["s"]), Decimal(str(data["c"]))
        except (KeyError, TypeError, InvalidOperation):
            self._log.warning("malformed ticker skipped", venue="binance")
            return False
        assert self.on_ticker is not None
        await self.on_ticker(symbol, price)
        return True

    async def _deliver(self, candle: Candle) -> bool:
        """Hand ``candle`` to the consumer unless it (or a later one) was delivered."""
        if candle.open_time_ms <= self.last_open_ms.get(candle.symbol, -1):
            return False
        self.last_open_ms[candle.symbol] = candle.open_time_ms
        await self.on_candle(candle)
        return True

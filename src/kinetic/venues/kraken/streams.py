"""Kraken Spot WS v2 market data: closed candles, exactly once, across reconnects.

Kraken's ``ohlc`` channel has no "closed" flag: a candle is final when a message with
a later ``interval_begin`` arrives. ``KrakenCandleStream.candles()`` yields each closed
candle once and in order:

* it subscribes first, then backfills over REST (``OHLC``, closed rows only) every
  candle after the last one delivered, so nothing closed during a gap is lost;
* a jump of more than one interval mid-stream is filled from REST before going on;
* a watchdog on the injected clock sends ``{"method": "ping"}`` every
  ``ping_interval_seconds`` and closes a socket silent for ``silence_timeout_seconds``;
* reconnects back off exponentially with jitter on the clock (reset once subscribed);
* it yields to the event loop every ``yield_every`` messages.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp

from kinetic.clock import Clock
from kinetic.domain import Candle
from kinetic.logging import get_logger
from kinetic.tasks import cancel_and_wait
from kinetic.venues.base.errors import VenueError
from kinetic.venues.kraken.schemas import SchemaError, obj
from kinetic.venues.kraken.spot import KrakenSpotClient
from kinetic.venues.kraken.symbols import interval_ms, spot_interval_minutes

DEFAULT_WS_URL = "wss://ws.kraken.com/v2"
DEFAULT_AUTH_WS_URL = "wss://ws-auth.kraken.com/v2"


def parse_ws_candle(raw: Any, symbol: str, step_ms: int) -> Candle:
    """Parse one WS v2 ``ohlc`` entry (``interval_begin`` ISO time, float prices)."""
    r = obj(raw, "ohlc")
    try:
        begin = str(r["interval_begin"])[:19]
        open_ms = int(datetime.fromisoformat(begin).replace(tzinfo=UTC).timestamp() * 1000)
        o, h, lo, c, v = (float(r[k]) for k in ("open", "high", "low", "close", "volume"))
    except (KeyError, TypeError, ValueError):
        raise SchemaError(f"bad ohlc entry {raw!r}") from None
    return Candle(symbol, open_ms, open_ms + step_ms - 1, o, h, lo, c, v)


class KrakenCandleStream:
    """Closed candles of one symbol and interval from Kraken WS v2 with REST backfill."""

    def __init__(
        self,
        client: KrakenSpotClient,
        clock: Clock,
        symbol: str,
        interval: str,
        *,
        since_ms: int | None = None,
        ws_url: str = DEFAULT_WS_URL,
        ping_interval_seconds: float = 10.0,
        silence_timeout_seconds: float = 30.0,
        backoff_base_seconds: float = 1.0,
        backoff_cap_seconds: float = 60.0,
        yield_every: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        self._client, self._clock = client, clock
        self.symbol, self.interval = symbol.upper(), interval
        self._step = interval_ms(interval)
        spot_interval_minutes(interval)  # validate early
        self.last_emitted_ms = since_ms - self._step if since_ms is not None else None
        self._url = ws_url
        self._ping, self._silence = ping_interval_seconds, silence_timeout_seconds
        self._backoff = (backoff_base_seconds, backoff_cap_seconds)
        self._yield_every = max(1, yield_every)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._current: Candle | None = None
        self._last_rx = 0.0
        self.connects = 0
        self._log = get_logger(venue="kraken", component="ws_ohlc", symbol=self.symbol)

    async def candles(self) -> AsyncIterator[Candle]:
        """Yield closed candles forever (until cancelled), exactly once, oldest first."""
        attempt = 0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(self._url, autoping=True) as ws:
                        self.connects += 1
                        await self._subscribe(ws)
                        attempt = 0
                        for candle in await self._backfill(None):
                            yield candle
                        async for candle in self._read(ws):
                            yield candle
                except (aiohttp.ClientError, OSError, TimeoutError, VenueError) as exc:
                    self._log.warning(
                        "ohlc stream failed", error=str(exc), error_type=type(exc).__name__
                    )
                await self._clock.sleep(self._delay(attempt))
                attempt += 1

    def _delay(self, attempt: int) -> float:
        base, cap = self._backoff
        ceiling = min(cap, base * 2.0**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        pair = await self._client.pair(self.symbol)
        params = {
            "channel": "ohlc",
            "symbol": [pair.ws_symbol],
            "interval": spot_interval_minutes(self.interval),
        }
        await ws.send_json({"method": "subscribe", "params": params})
        self._last_rx = self._clock.time()

    async def _backfill(self, before_ms: int | None) -> list[Candle]:
        """Return REST candles after the last delivered one (and before ``before_ms``)."""
        if self.last_emitted_ms is None:
            return []
        start = self.last_emitted_ms + self._step
        rows = await self._client.get_klines(self.symbol, self.interval, 720, start_ms=start)
        out = []
        for candle in rows:
            if before_ms is not None and candle.open_time_ms >= before_ms:
                break
            out.extend(self._emit(candle))
        return out

    def _emit(self, candle: Candle) -> list[Candle]:
        if self.last_emitted_ms is not None and candle.open_time_ms <= self.last_emitted_ms:
            return []
        self.last_emitted_ms = candle.open_time_ms
        return [candle]

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[Candle]:
        watchdog = asyncio.create_task(self._watch(ws), name=f"kraken-ws-watchdog-{self.symbol}")
        try:
            count = 0
            async for msg in ws:
                self._last_rx = self._clock.time()
                count += 1
                if count % self._yield_every == 0:
                    await asyncio.sleep(0)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                for candle in await self._on_message(msg.data):
                    yield candle
        finally:
            await cancel_and_wait(watchdog)

    async def _watch(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await self._clock.sleep(self._ping)
            if self._clock.time() - self._last_rx > self._silence:
                self._log.warning("ohlc stream silent; reconnecting")
                await ws.close()
                return
            await ws.send_json({"method": "ping"})

    async def _on_message(self, text: str) -> list[Candle]:
        try:
            msg = json.loads(text)
        except ValueError:
            self._log.warning("malformed ws message skipped", endpoint="ohlc")
            return []
        if not isinstance(msg, dict) or msg.get("channel") != "ohlc":
            return []
        out: list[Candle] = []
        for raw in msg.get("data") or []:
            try:
                candle = parse_ws_candle(raw, self.symbol, self._step)
            except SchemaError as exc:
                self._log.warning("malformed ws candle skipped", endpoint="ohlc", error=str(exc))
                continue
            out.extend(await self._on_candle(candle))
        return out

    async def _on_candle(self, candle: Candle) -> list[Candle]:
        current = self._current
        if current is None or candle.open_time_ms >= current.open_time_ms:
            self._current = candle
        if current is None or candle.open_time_ms <= current.open_time_ms:
            return []
        out = []
        last = self.last_emitted_ms
        if last is not None and current.open_time_ms > last + self._step:
            out.extend(await self._backfill(current.open_time_ms))
        out.extend(self._emit(current))
        return out

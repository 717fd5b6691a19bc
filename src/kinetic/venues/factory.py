"""Build venue clients and candle sources from configuration (paper and live modes).

The one place that knows which class serves which (venue, market) pair and where its
endpoints are. Every base URL can be overridden in the config (``venue_urls``), which
is how tests point the daemon at a local fake venue server.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import EnvConfig, UnifiedConfig
from kinetic.clock import Clock
from kinetic.domain import Candle
from kinetic.marketdata.live import CandleSource, Emit, PollingCandleSource
from kinetic.venues.binance.futures import FUTURES_BASE_URL, BinanceFuturesClient
from kinetic.venues.binance.spot import SPOT_BASE_URL, BinanceSpotClient
from kinetic.venues.binance.streams import FUTURES_STREAM_URL, SPOT_STREAM_URL, MarketStream
from kinetic.venues.binance.user_streams import (
    FUTURES_PRIVATE_URL,
    SPOT_WS_API_URL,
    FuturesUserStream,
    SpotUserStream,
)
from kinetic.venues.kraken.futures import DEFAULT_BASE_URL as KRAKEN_FUTURES_URL
from kinetic.venues.kraken.futures import KrakenFuturesClient
from kinetic.venues.kraken.spot import DEFAULT_BASE_URL as KRAKEN_SPOT_URL
from kinetic.venues.kraken.spot import KrakenSpotClient
from kinetic.venues.kraken.streams import DEFAULT_AUTH_WS_URL as KRAKEN_AUTH_WS_URL
from kinetic.venues.kraken.streams import DEFAULT_WS_URL as KRAKEN_WS_URL
from kinetic.venues.kraken.streams import KrakenCandleStream
from kinetic.venues.kraken.user_streams import (
    DEFAULT_FUTURES_WS_URL as KRAKEN_FUTURES_WS_URL,
)
from kinetic.venues.kraken.user_streams import KrakenFuturesUserStream, KrakenSpotUserStream

DEFAULT_URLS: dict[str, str] = {
    "binance_spot_rest": SPOT_BASE_URL,
    "binance_spot_ws": SPOT_STREAM_URL,
    "binance_futures_rest": FUTURES_BASE_URL,
    "binance_futures_ws": FUTURES_STREAM_URL,
    "binance_spot_ws_api": SPOT_WS_API_URL,
    "binance_futures_private": FUTURES_PRIVATE_URL,
    "kraken_spot_rest": KRAKEN_SPOT_URL,
    "kraken_spot_ws": KRAKEN_WS_URL,
    "kraken_futures_rest": KRAKEN_FUTURES_URL,
    "kraken_spot_ws_auth": KRAKEN_AUTH_WS_URL,
    "kraken_futures_ws": KRAKEN_FUTURES_WS_URL,
}
TESTNET_URLS: dict[str, str] = {
    "binance_spot_rest": "https://testnet.binance.vision",
    "binance_spot_ws": "wss://stream.testnet.binance.vision/stream",
    "binance_futures_rest": "https://testnet.binancefuture.com",
    "binance_futures_ws": "wss://fstream.binancefuture.com/market/stream",
    "binance_spot_ws_api": "wss://ws-api.testnet.binance.vision/ws-api/v3",
    "binance_futures_private": "wss://fstream.binancefuture.com/private/ws",
    "kraken_futures_rest": "https://demo-futures.kraken.com",
    "kraken_futures_ws": "wss://demo-futures.kraken.com/ws/v1",
}


def venue_urls(config: UnifiedConfig, env: EnvConfig, live: bool) -> dict[str, str]:
    """Endpoints to use: defaults, testnet ones for live with ``BINANCE_TESTNET``, overrides."""
    urls = dict(DEFAULT_URLS)
    if live and env.binance_testnet:
        urls.update({k: v for k, v in TESTNET_URLS.items() if k.startswith("binance")})
    unknown = sorted(set(config.venue_urls) - set(DEFAULT_URLS))
    if unknown:
        from config import ConfigValidationError

        raise ConfigValidationError(
            f"venue_urls: unknown keys {unknown}; allowed: {sorted(DEFAULT_URLS)}", ("venue_urls",)
        )
    urls.update(config.venue_urls)
    return urls


@dataclass(frozen=True, slots=True)
class Keys:
    api_key: str = ""
    api_secret: str = ""


def keys_for(env: EnvConfig, venue: str, market: str) -> Keys:
    """The credentials a (venue, market) pair uses; empty for public-data clients."""
    names = {
        ("binance", "spot"): ("binance_api_key", "binance_api_secret"),
        ("binance", "futures"): ("binance_api_key", "binance_api_secret"),
        ("kraken", "spot"): ("kraken_api_key", "kraken_api_secret"),
        ("kraken", "futures"): ("kraken_futures_api_key", "kraken_futures_api_secret"),
    }[(venue, market)]
    values = [getattr(env, n) for n in names]
    return Keys(*(v.get_secret_value() if v is not None else "" for v in values))


def make_client(
    venue: str, market: str, clock: Clock, urls: dict[str, str], keys: Keys, state_dir: str
) -> Any:
    """Create the REST client for one (venue, market) pair."""
    if venue == "binance" and market == "spot":
        return BinanceSpotClient(
            clock,
            api_key=keys.api_key,
            api_secret=keys.api_secret,
            base_url=urls["binance_spot_rest"],
        )
    if venue == "binance":
        return BinanceFuturesClient(
            clock,
            api_key=keys.api_key,
            api_secret=keys.api_secret,
            base_url=urls["binance_futures_rest"],
        )
    if market == "spot":
        return KrakenSpotClient(
            clock,
            api_key=keys.api_key,
            api_secret=keys.api_secret,
            base_url=urls["kraken_spot_rest"],
            state_dir=Path(state_dir),
        )
    return KrakenFuturesClient(
        clock,
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        base_url=urls["kraken_futures_rest"],
    )


class BinanceCandleSource:
    """Adapt Binance's callback MarketStream to a CandleSource."""

    def __init__(
        self,
        url: str,
        symbols: list[str],
        interval: str,
        clock: Clock,
        client: Any,
        last_open_ms: dict[str, int],
    ) -> None:
        self._args = (url, symbols, interval, clock, client)
        self._last = last_open_ms

    async def run(self, emit: Emit) -> None:
        async def on_candle(candle: Candle) -> None:
            emit(candle)

        url, symbols, interval, clock, client = self._args
        stream = MarketStream(
            url,
            symbols,
            interval,
            clock,
            client,
            on_candle,
            name=f"binance-stream:{url.rsplit('/', 2)[-2]}",
        )
        stream.last_open_ms.update(self._last)  # backfill from the warm-up's last candle
        stream.start()
        try:
            await asyncio.Event().wait()  # runs until the feed cancels it
        finally:
            await stream.stop()


class KrakenCandleSource:
    """One Kraken WS v2 OHLC stream per symbol, run together."""

    def __init__(
        self,
        client: Any,
        clock: Clock,
        symbols: list[str],
        interval: str,
        ws_url: str,
        last_open_ms: dict[str, int],
    ) -> None:
        self._client, self._clock, self._interval, self._url = client, clock, interval, ws_url
        self._symbols, self._last = symbols, last_open_ms

    async def run(self, emit: Emit) -> None:
        async with asyncio.TaskGroup() as tg:
            for symbol in self._symbols:
                tg.create_task(self._one(symbol, emit), name=f"kraken-ohlc:{symbol}")

    async def _one(self, symbol: str, emit: Emit) -> None:
        last = self._last.get(symbol)
        step = _interval_ms(self._interval)
        stream = KrakenCandleStream(
            self._client,
            self._clock,
            symbol,
            self._interval,
            since_ms=None if last is None else last + step,
            ws_url=self._url,
        )
        async for candle in stream.candles():
            emit(candle)


def make_candle_source(
    venue: str,
    market: str,
    client: Any,
    symbols: list[str],
    interval: str,
    clock: Clock,
    urls: dict[str, str],
    last_open_ms: dict[str, int],
) -> CandleSource:
    """The closed-candle source for one engine's market."""
    if venue == "binance":
        url = urls["binance_spot_ws" if market == "spot" else "binance_futures_ws"]
        return BinanceCandleSource(url, symbols, interval, clock, client, last_open_ms)
    if market == "spot":
        return KrakenCandleSource(
            client, clock, symbols, interval, urls["kraken_spot_ws"], last_open_ms
        )
    source = PollingCandleSource(client, symbols, interval, clock)
    source.last_open_ms.update(last_open_ms)
    return source


def _interval_ms(interval: str) -> int:
    units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
    return int(interval[:-1]) * units[interval[-1]]


def make_user_stream(
    venue: str,
    market: str,
    client: Any,
    clock: Clock,
    urls: dict[str, str],
    keys: Keys,
    on_update: Any,
) -> Any:
    """The private order-update stream of a live client.

    Updates only wake the engine: fills are still taken from REST (``get_fills``), so
    the push path and the polling fallback apply each fill exactly once.
    """

    async def on_order(_order: Any) -> None:
        on_update()

    if venue == "kraken" and market == "spot":
        return KrakenSpotUserStream(client, clock, on_order, ws_url=urls["kraken_spot_ws_auth"])
    if venue == "kraken":
        return KrakenFuturesUserStream(
            client,
            clock,
            on_order,
            ws_url=urls["kraken_futures_ws"],
            api_key=keys.api_key,
            api_secret=keys.api_secret,
        )
    if market == "futures":
        return FuturesUserStream(client.rest, clock, on_order, url=urls["binance_futures_private"])
    return SpotUserStream(
        clock,
        on_order,
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        url=urls["binance_spot_ws_api"],
    )

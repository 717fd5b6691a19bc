"""Fixtures: a fake Binance server and a client pointed at it, on an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kinetic.clock import Clock
from kinetic.venues.binance import BinanceFuturesClient, BinanceSpotClient
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from kinetic.venues.http import HttpSettings, RetryPolicy
from tests.fake_venues.fast_clock import FastClock


@pytest.fixture
def clock() -> FastClock:
    return FastClock()


@pytest.fixture
async def make_pair() -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[FakeBinance, Any]] = []

    async def make(
        clock: Clock,
        *,
        futures: bool = False,
        timeout_seconds: float = 5.0,
    ) -> tuple[FakeBinance, Any]:
        server = FakeBinance(futures=futures, clock=clock)
        await server.start()
        settings = HttpSettings(timeout_seconds=timeout_seconds, retry=RetryPolicy(max_attempts=4))
        cls = BinanceFuturesClient if futures else BinanceSpotClient
        client = cls(
            clock, api_key=API_KEY, api_secret=API_SECRET, base_url=server.url, settings=settings
        )
        made.append((server, client))
        return server, client

    yield make
    for server, client in made:
        await client.close()
        await server.stop()

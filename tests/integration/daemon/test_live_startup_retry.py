"""Live start-up against the fake Binance USD-M: transient venue errors are retried with
backoff on the injected clock (never an exit 2); refused keys still fail at once; an
outage longer than the budget ends the start as ``VenueUnavailable`` (exit 1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from config import EnvConfig, UnifiedConfig
from kinetic.app import Daemon
from kinetic.clock import RealClock
from kinetic.domain import OrderIntent, OrderType, Side
from kinetic.errors import StartupError, VenueUnavailable
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from kinetic.execution.takeover import TakeoverRefused
from kinetic.venues.binance import BinanceFuturesClient
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from kinetic.worlds import build_venue_world, live_checks
from tests.fake_venues.fast_clock import FastClock
from tests.fake_venues.urls import binance_urls

MINUTE_MS = 60_000


@pytest.fixture
def clock() -> FastClock:
    return FastClock()


@pytest.fixture
async def server(clock: FastClock) -> AsyncIterator[FakeBinance]:
    fake = FakeBinance(futures=True, clock=clock)
    await fake.start()
    last = (clock.time_ms() // MINUTE_MS - 1) * MINUTE_MS
    for i in range(30):
        fake.add_candle("ETHUSDT", last - (29 - i) * MINUTE_MS, 2000.0 + i)
    fake.set_price("ETHUSDT", Decimal(2029))
    yield fake
    await fake.stop()


def _config(server: FakeBinance) -> UnifiedConfig:
    return UnifiedConfig(
        spot_enabled=False,
        futures_watchlist=["ETHUSDT"],
        timeframe="1m",
        paper_warmup_candles=20,
        candle_record_dir="",
        api_port=0,  # a free port: tests never collide on 8080
        venue_urls=binance_urls(futures=server),
    )


def _startup_backoff(clock: FastClock, start: int = 0) -> list[float]:
    """The start-up retry's waits (whole seconds; the HTTP client's own are jittered)."""
    return [s for s in clock.sleeps[start:] if s >= 1.0 and s == int(s)]


def _env(key: str = API_KEY) -> EnvConfig:
    return EnvConfig(
        mode="live", binance_api_key=SecretStr(key), binance_api_secret=SecretStr(API_SECRET)
    )


async def _build(server: FakeBinance, clock: FastClock, budget_s: float, key: str = API_KEY):  # type: ignore[no-untyped-def]
    return await build_venue_world(
        _config(server), _env(key), "live", ["futures"], {"futures": Decimal(1000)}, "t",
        record_candles=False, retry_budget_s=budget_s, clock=clock,
    )  # fmt: skip


async def test_transient_errors_during_live_startup_then_retried_with_backoff_and_started(
    server: FakeBinance, clock: FastClock
) -> None:
    # more 503s than two calls' HTTP retries (the client's failure count would halt it)
    server.inject("503", path="/fapi/v1/exchangeInfo", times=10)
    server.inject("503", path="/fapi/v3/balance", times=5)
    world = await _build(server, clock, budget_s=120)
    try:
        assert list(world.instruments["futures"]) == ["ETHUSDT"]
        results = await live_checks(world, retry_budget_s=120)
        assert (True, "futures: balances readable (key valid)") in results
        assert _startup_backoff(clock) == [1.0, 2.0, 1.0]  # instruments twice, balances once
    finally:
        await world.stop()


async def test_refused_key_during_live_checks_then_failed_at_once_without_retry(
    server: FakeBinance, clock: FastClock
) -> None:
    world = await _build(server, clock, budget_s=120, key="not-the-key")
    try:
        before = len(clock.sleeps)
        results = await live_checks(world, retry_budget_s=120)
        failed = [msg for ok, msg in results if not ok]
        assert any("balances readable" in m and "AuthError" in m for m in failed)
        assert not _startup_backoff(clock, before)
    finally:
        await world.stop()


async def test_outage_longer_than_the_budget_then_venue_unavailable(
    server: FakeBinance, clock: FastClock
) -> None:
    server.inject("503", path="/fapi/v1/exchangeInfo", times=10_000)
    with pytest.raises(VenueUnavailable, match="instruments"):
        await _build(server, clock, budget_s=10)
    assert sum(_startup_backoff(clock)) <= 10


async def test_engine_start_resets_the_http_clients_failure_count(
    server: FakeBinance, clock: FastClock
) -> None:
    keys = {"api_key": API_KEY, "api_secret": API_SECRET}
    client = BinanceFuturesClient(clock, base_url=server.url, **keys)
    try:
        client.rest.http.failures.consecutive = 4  # one short outage before the restart
        oms = OrderManager("futures", client, MemoryRecorder(), clock)
        await oms.start()  # every engine (re)start begins here
        assert client.rest.http.failures.consecutive == 0
    finally:
        await client.close()


async def test_live_daemon_when_takeover_refuses_then_start_ends_with_the_report(
    tmp_path: Path,
) -> None:
    """A position by hand and ``takeover_policy: refuse``: the daemon stops (exit 2)."""
    fake = FakeBinance(futures=True)  # real time: the live checks compare clocks
    await fake.start()
    try:
        last = (int(time.time() * 1000) // MINUTE_MS - 1) * MINUTE_MS
        for i in range(30):
            fake.add_candle("ETHUSDT", last - (29 - i) * MINUTE_MS, 2000.0 + i)
        fake.set_price("ETHUSDT", Decimal(2029))
        hand = BinanceFuturesClient(
            RealClock(), api_key=API_KEY, api_secret=API_SECRET, base_url=fake.url
        )
        intent = OrderIntent("x", "ETHUSDT", Side.BUY, OrderType.MARKET, Decimal("0.5"), "hand")
        await hand.place_order(intent)
        await hand.close()
        config = _config(fake).model_copy(
            update={"takeover_policy": "refuse", "live_trading_enabled": True,
                    "sqlite_path": str(tmp_path / "live.db")}
        )  # fmt: skip
        daemon = Daemon(config, _env(), mode="live")
        with pytest.raises(TakeoverRefused) as err:
            await asyncio.wait_for(daemon.run(asyncio.Event()), 30)
        assert isinstance(err.value, StartupError)  # main.py: "kinetic: cannot start: ..." exit 2
        assert "ETHUSDT" in str(err.value)
        assert fake.book.positions  # nothing was closed
    finally:
        await fake.stop()

"""Paper mode end to end against local fake Binance servers (spot and USD-M).

The daemon reads instruments, warms up from REST klines and follows the kline streams
of the fake venues (pointed to with ``venue_urls``); fills come from the SimExchange.
Unknown watchlist symbols stop the start-up with the list of valid ones.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config import EnvConfig, UnifiedConfig
from kinetic.app import Daemon, StartupError
from kinetic.marketdata.files import read_candles
from kinetic.storage.db import Database, resolve_database_url
from kinetic.venues.fakes.binance_server import FakeBinance
from tests.fake_venues.urls import binance_urls
from tests.integration.daemon.support import fill_counts, wait_until

MINUTE_MS = 60_000


async def _exists(url: str) -> bool:
    return os.path.exists(url.split(":///", 1)[1])  # noqa: ASYNC240 - a stat on tmpfs


def _uptrend(server: FakeBinance, symbol: str, base: float, count: int, end_open_ms: int) -> None:
    """``count`` closed 1m candles of a steady uptrend, the last one opening at ``end_open_ms``."""
    start = end_open_ms - (count - 1) * MINUTE_MS
    for i in range(count):
        wobble = 0.3 if i % 3 else -0.2
        server.add_candle(symbol, start + i * MINUTE_MS, base * (1 + 0.002 * i) + wobble)


class Market:
    """The uptrend goes on: each ``tick`` closes the next 1m candle on every fake.

    A daemon acts only on candles that close after it started (the warm-up history may
    have been acted on by an earlier process), so a test that wants orders keeps the
    market moving.
    """

    def __init__(self, servers: tuple[FakeBinance, ...], end_open_ms: int) -> None:
        self.servers = servers
        self.i = 240
        self.open_ms = end_open_ms
        self.next_s = 0.0

    async def tick(self) -> None:
        if time.monotonic() < self.next_s:
            return
        self.next_s = time.monotonic() + 0.3
        self.open_ms += MINUTE_MS
        for symbol, base in (("BTCUSDT", 100.0), ("ETHUSDT", 50.0)):
            price = base * (1 + 0.002 * self.i) + (0.3 if self.i % 3 else -0.2)
            for server in self.servers:
                row = server.add_candle(symbol, self.open_ms, price)
                await server.push_kline(symbol, row, closed=True)
        self.i += 1


def _last_history_open() -> int:
    return (int(time.time() * 1000) // MINUTE_MS - 1) * MINUTE_MS


@pytest.fixture
async def venues() -> AsyncIterator[tuple[FakeBinance, FakeBinance]]:
    spot, futures = FakeBinance(futures=False), FakeBinance(futures=True)
    await spot.start()
    await futures.start()
    # the last history candle closed a moment ago: the data is fresh
    last_open = _last_history_open()
    for server in (spot, futures):
        _uptrend(server, "BTCUSDT", 100.0, 240, last_open)
        _uptrend(server, "ETHUSDT", 50.0, 240, last_open)
    yield spot, futures
    await spot.stop()
    await futures.stop()


def _config(
    tmp_path: Path, spot: FakeBinance, futures: FakeBinance, **extra: object
) -> UnifiedConfig:
    values: dict[str, object] = {
        "spot_enabled": True,  # both engines (spot is off by default since issue 15)
        "spot_watchlist": ["BTCUSDT", "ETHUSDT"],
        "futures_watchlist": ["BTCUSDT", "ETHUSDT"],
        "timeframe": "1m",
        "spot_scan_interval_seconds": 1,
        "futures_scan_interval_seconds": 1,
        "monitor_interval_seconds": 0.1,
        "api_port": 0,  # a free port: tests never collide on 8080
        "sqlite_path": str(tmp_path / "paper.db"),
        "venue_state_dir": str(tmp_path / "state"),
        "candle_record_dir": str(tmp_path / "recorded"),
        # the fake venues' 240-candle uptrend is written for EMA 20 / 50 and the futures
        # threshold 50 (the defaults before issue 15 chose EMA 100 / 400 and 80)
        "strategy_params": {n: {"fast": 20, "slow": 50} for n in ("spot_trend", "futures_regime")},
        "futures_min_confidence": 50,
        "paper_warmup_candles": 200,  # the fakes hold 240 candles (the default is now 500)
        "venue_urls": binance_urls(spot=spot, futures=futures),
    }
    values.update(extra)
    return UnifiedConfig.model_validate(values)


async def test_paper_mode_trades_live_fake_venue_data_with_sim_fills(
    tmp_path: Path, venues: tuple[FakeBinance, FakeBinance]
) -> None:
    spot, futures = venues
    config = _config(tmp_path, spot, futures)
    url = resolve_database_url(None, str(tmp_path / "paper.db"))
    daemon = Daemon(config, EnvConfig(), mode="paper", database_url=url)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    db = Database(url)
    try:
        await wait_until(lambda: _exists(url), bool, "database file", limit_s=30, task=task)
        await db.connect()
        market = Market((spot, futures), _last_history_open())

        async def fills_while_trending() -> dict[str, int]:
            await market.tick()
            return await fill_counts(db)

        await wait_until(
            fills_while_trending,
            lambda c: len(c) == 2,
            "fills from both engines",
            limit_s=60,
            task=task,
        )
        # a new closed candle pushed on the stream reaches the engines' store
        store = daemon.world.stores["spot"]  # type: ignore[union-attr]
        last = store.last("BTCUSDT")
        assert last is not None
        row = spot.add_candle("BTCUSDT", last.open_time_ms + MINUTE_MS, last.close * 1.001)

        async def pushed() -> int:
            await spot.push_kline("BTCUSDT", row, closed=True)
            got = store.last("BTCUSDT")
            return 0 if got is None else got.open_time_ms

        await wait_until(
            pushed, lambda t: t == row[0], "streamed candle in the store", limit_s=30, task=task
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await db.close()
    # no order ever reached the fake venues: paper fills are simulated
    assert not spot.book.orders
    assert not futures.book.orders
    # every candle the daemon received (warm-up and stream) was recorded, once, in the
    # replay/backtest format
    recorded = read_candles(tmp_path / "recorded/spot/BTCUSDT_1m.csv", "BTCUSDT")
    assert recorded.interval_ms == MINUTE_MS
    assert int(recorded.open_time_ms[-1]) == row[0]
    opens = [int(t) for t in recorded.open_time_ms]
    # the warm-up (the newest candle of the fakes may still be open) and the streamed one
    assert len(opens) >= config.paper_warmup_candles
    assert opens == sorted(set(opens))  # each candle once, in order
    assert (tmp_path / "recorded/futures/ETHUSDT_1m.csv").exists()


async def test_unknown_watchlist_symbol_stops_startup_listing_valid_ones(
    tmp_path: Path, venues: tuple[FakeBinance, FakeBinance]
) -> None:
    spot, futures = venues
    config = _config(tmp_path, spot, futures, spot_watchlist=["BTCUSDT", "DOGEUSDT"])
    url = resolve_database_url(None, str(tmp_path / "paper.db"))
    daemon = Daemon(config, EnvConfig(), mode="paper", database_url=url)
    with pytest.raises(StartupError) as err:
        await daemon.run(asyncio.Event())
    msg = str(err.value)
    assert "DOGEUSDT" in msg
    assert "spot_watchlist" in msg
    assert "BTCUSDT, ETHUSDT" in msg


async def test_doctor_in_paper_mode_reaches_the_venues(
    tmp_path: Path, venues: tuple[FakeBinance, FakeBinance], capsys: pytest.CaptureFixture[str]
) -> None:
    from kinetic.doctor import run_doctor

    spot, futures = venues
    config = _config(tmp_path, spot, futures)
    url = resolve_database_url(None, str(tmp_path / "doctor.db"))
    code = await run_doctor(config, EnvConfig(mode="paper"), url)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[ok] spot: instruments and candles" in out
    assert "[ok] futures: instruments and candles" in out


async def test_live_mode_sends_real_orders_after_startup_checks(
    tmp_path: Path, venues: tuple[FakeBinance, FakeBinance]
) -> None:
    from decimal import Decimal

    from pydantic import SecretStr

    from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET

    spot, futures = venues
    for server in (spot, futures):
        server.set_price("BTCUSDT", Decimal(str(round(100 * (1 + 0.002 * 239), 2))))
        server.set_price("ETHUSDT", Decimal(str(round(50 * (1 + 0.002 * 239), 2))))
    config = _config(tmp_path, spot, futures, live_trading_enabled=True)
    env = EnvConfig(
        mode="live", binance_api_key=SecretStr(API_KEY), binance_api_secret=SecretStr(API_SECRET)
    )
    url = resolve_database_url(None, str(tmp_path / "live.db"))
    daemon = Daemon(config, env, mode="live", database_url=url)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))

    market = Market((spot, futures), _last_history_open())

    async def orders() -> tuple[int, int]:
        await market.tick()
        return len(spot.book.orders), len(futures.book.orders)

    try:
        await wait_until(
            orders, lambda n: n[0] > 0 and n[1] > 0, "orders on both venues", limit_s=60, task=task
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)

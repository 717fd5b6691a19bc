"""A live restart on an account whose cash differs from ``initial_capital_usd`` trips no
breaker (issue 11 regression).

The fake venues hold 100,000 USDT each (200,000 in all); the config says 10,000. Before
the fix, the restart fed the risk monitor the configured 10,000 against the saved
200,000 peak before the engines had read their accounts: a 95% "drawdown", every
position closed and the daemon halted. Now no risk check runs until every engine is
ready, so the first figure the monitor sees is the account's.
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
from kinetic.domain import TradingState
from kinetic.storage.db import resolve_database_url
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from tests.fake_venues.urls import binance_urls
from tests.integration.daemon.support import event_kinds, query, wait_until

MINUTE_MS = 60_000
CASH_PER_VENUE = Decimal(100_000)


@pytest.fixture
async def venues() -> AsyncIterator[tuple[FakeBinance, FakeBinance]]:
    spot, futures = FakeBinance(futures=False), FakeBinance(futures=True)
    await spot.start()
    await futures.start()
    last_open = (int(time.time() * 1000) // MINUTE_MS - 1) * MINUTE_MS
    for server in (spot, futures):
        server.book.fund(CASH_PER_VENUE)
        for symbol, base in (("BTCUSDT", 100.0), ("ETHUSDT", 50.0)):
            start = last_open - 239 * MINUTE_MS
            for i in range(240):
                server.add_candle(symbol, start + i * MINUTE_MS, base * (1 + 0.001 * i))
            server.set_price(symbol, Decimal(str(round(base * (1 + 0.001 * 239), 2))))
    yield spot, futures
    await spot.stop()
    await futures.stop()


def _config(tmp_path: Path, spot: FakeBinance, futures: FakeBinance) -> UnifiedConfig:
    return UnifiedConfig.model_validate(
        {
            "initial_capital_usd": 10_000,
            "live_trading_enabled": True,
            "spot_enabled": True,  # both engines (spot is off by default since issue 15)
            "spot_watchlist": ["BTCUSDT", "ETHUSDT"],
            "futures_watchlist": ["BTCUSDT", "ETHUSDT"],
            "timeframe": "1m",
            "monitor_interval_seconds": 0.1,
            "api_port": 0,  # a free port: tests never collide on 8080
            "sqlite_path": str(tmp_path / "live.db"),
            "venue_state_dir": str(tmp_path / "state"),
            "candle_record_dir": str(tmp_path / "recorded"),
            "venue_urls": binance_urls(spot=spot, futures=futures),
        }
    )


async def _run_until_risk_fed(daemon: Daemon) -> None:
    """Run ``daemon`` until its risk monitor has seen the account and persisted it."""
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="test:live-daemon")

    async def fed() -> list[tuple[object, ...]]:
        if daemon.orchestrator is None or daemon.orchestrator.risk_monitor.day is None:
            return []
        return await query(daemon.db, "SELECT day, peak_equity FROM portfolio_state")

    try:
        await wait_until(fed, lambda rows: bool(rows and rows[0][0]), "risk figures", 60, task)
        orch = daemon.orchestrator
        assert orch is not None
        start = orch.risk_monitor.day_start_value
        assert start > 150_000, start  # the account's figure, not the configured 10,000
        [(seen,)] = await query(daemon.db, "SELECT updated_ms FROM portfolio_state")

        async def updated() -> int:
            [(ms,)] = await query(daemon.db, "SELECT updated_ms FROM portfolio_state")
            return int(ms)

        # some more monitor steps (each persists the row) on the account's figures
        await wait_until(updated, lambda ms: ms > int(seen) + 500, "later steps", 30, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_live_restart_on_account_richer_than_config_trips_no_breaker(
    tmp_path: Path, venues: tuple[FakeBinance, FakeBinance]
) -> None:
    spot, futures = venues
    config = _config(tmp_path, spot, futures)
    env = EnvConfig(
        mode="live", binance_api_key=SecretStr(API_KEY), binance_api_secret=SecretStr(API_SECRET)
    )
    url = resolve_database_url(None, str(tmp_path / "live.db"))

    first = Daemon(config, env, mode="live", database_url=url)
    await _run_until_risk_fed(first)
    peak = await _peak(url)
    assert peak >= 2 * CASH_PER_VENUE * Decimal("0.9"), peak

    second = Daemon(config, env, mode="live", database_url=url)
    await _run_until_risk_fed(second)

    kinds = await _events(url)
    assert "circuit_breaker" not in kinds, kinds
    assert "close_all" not in kinds
    assert second.states is not None
    assert second.states.state("daemon") is TradingState.ACTIVE
    assert second.orchestrator is not None
    assert not second.orchestrator.risk_monitor.drawdown_latched


async def _peak(url: str) -> Decimal:
    from kinetic.storage.db import Database

    db = Database(url)
    await db.connect()
    try:
        [(peak,)] = await query(db, "SELECT peak_equity FROM portfolio_state")
    finally:
        await db.close()
    return Decimal(str(peak))


async def _events(url: str) -> list[str]:
    from kinetic.storage.db import Database

    db = Database(url)
    await db.connect()
    try:
        return await event_kinds(db)
    finally:
        await db.close()

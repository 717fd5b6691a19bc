"""Parity end to end: a run against a fake venue, then ``parity`` on its database.

A live daemon (futures engine, ``sma_cross`` 20/50) trades against an in-process fake
Binance USD-M that fills every market order 10 bps against the taker. The test closes
one 1m candle at a time and waits until the engine has acted on it (no candle is
skipped by a scan that reads two). The candle path crosses up, then down: one entry,
its protective stop, one exit. ``parity`` then re-runs the backtester over the
candles the daemon recorded and pairs the orders: none missed, none extra, every fill
exactly 10 bps worse than the backtest's (closes are multiples of 100, so the slipped
price is on the 0.10 tick), the fee difference that follows from it, and the latency.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config import EnvConfig, UnifiedConfig
from kinetic.app import Daemon
from kinetic.backtest.parity import Leg, Pair, pair_orders
from kinetic.storage.db import resolve_database_url
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from tests.fake_venues.urls import binance_urls
from tests.integration.daemon.support import wait_until

MINUTE_MS = 60_000
SYMBOL = "BTCUSDT"
SLIPPAGE_BPS = Decimal(10)
HISTORY = [30000.0] * 200 + [30000.0 - 100 * i for i in range(1, 41)]  # fast < slow
LIVE = [26000.0 + 600 * i for i in range(1, 9)] + [30800.0 - 600 * i for i in range(1, 17)]

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, futures: FakeBinance) -> UnifiedConfig:
    return UnifiedConfig.model_validate(
        {
            "spot_enabled": False,
            "api_enabled": False,  # not read here; 8080 may be taken (a running daemon)
            "futures_watchlist": [SYMBOL],
            "futures_strategy": "sma_cross",
            "timeframe": "1m",
            "futures_scan_interval_seconds": 1,
            "monitor_interval_seconds": 0.1,
            "futures_leverage_min": 1,
            "futures_leverage_max": 1,
            "futures_atr_stop_multiplier": 10,  # about 6,000 below: never reached here
            "futures_trailing_activation_pct": 100,
            "futures_taker_fee_pct": 0.1,  # the fake's fee rate
            "slippage_bps": 0,
            "live_trading_enabled": True,
            "sqlite_path": str(tmp_path / "live.db"),
            "venue_state_dir": str(tmp_path / "state"),
            "candle_record_dir": str(tmp_path / "recorded"),
            "venue_urls": binance_urls(futures=futures),
        }
    )


async def _trade_the_path(
    server: FakeBinance, config: UnifiedConfig, env: EnvConfig, url: str, engine_name: str
) -> None:
    """Run the daemon while the live candles close one at a time, each acted on."""
    last_open = (int(time.time() * 1000) // MINUTE_MS - 1) * MINUTE_MS
    first = last_open - (len(HISTORY) - 1) * MINUTE_MS
    for i, close in enumerate(HISTORY):
        server.add_candle(SYMBOL, first + i * MINUTE_MS, close)
    server.set_price(SYMBOL, Decimal(str(HISTORY[-1])))
    daemon = Daemon(config, env, mode=env.mode, database_url=url)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))

    async def engine() -> Any:
        return None if daemon.orchestrator is None else daemon.orchestrator.engines.get(engine_name)

    try:
        eng = await wait_until(engine, lambda e: e is not None and e.ready, "engine", 60, task)
        open_ms = last_open
        for close in LIVE:
            open_ms += MINUTE_MS
            server.set_price(SYMBOL, Decimal(str(close)))
            row = server.add_candle(SYMBOL, open_ms, close)
            await server.push_kline(SYMBOL, row, closed=True)

            async def acted(t: int = open_ms) -> bool:
                # scanned, the step over (its orders sent) and no fill still to learn;
                # the cursor moves before the step's orders go out, the lock after
                scanned = eng._scan_cursor.get(SYMBOL) == t and not eng._step_lock.locked()
                return scanned and not eng.d.oms.awaiting_fills(SYMBOL)

            await wait_until(acted, bool, f"the candle at {open_ms} acted on", 30, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def _cli(args: list[str], config: UnifiedConfig, url: str) -> dict[str, Any]:
    import argparse

    from kinetic.backtest.parity_cli import add_arguments, run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parsed = parser.parse_args(args)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run(parsed, config, url) == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


async def test_parity_of_a_run_on_the_fake_venue_reports_its_slippage_exactly(
    tmp_path: Path,
) -> None:
    futures = FakeBinance(futures=True)
    futures.book.market_slippage_bps = SLIPPAGE_BPS
    await futures.start()
    config = _config(tmp_path, futures)
    env = EnvConfig(
        mode="live", binance_api_key=SecretStr(API_KEY), binance_api_secret=SecretStr(API_SECRET)
    )
    url = resolve_database_url(None, str(tmp_path / "live.db"))
    try:
        await _trade_the_path(futures, config, env, url, "futures")
    finally:
        await futures.stop()
    html = tmp_path / "parity.html"
    # the candles run ahead of the wall clock here (a minute per step): pair in order
    report = await asyncio.to_thread(
        _cli,
        ["--engine", "futures", "--tolerance-s", "0", "--json", "--html", str(html)],
        config,
        url,
    )
    orders = report["orders"]
    assert (orders["missed"], orders["extra"]) == (0, 0)
    pairs = report["pairs"]
    markets = [p for p in pairs if p["type"] == "MARKET"]
    assert [(p["side"], p["reduce_only"]) for p in markets] == [("BUY", False), ("SELL", True)]
    assert orders["matched"] == len(pairs) >= 3  # the entry, its stop, the exit
    for p in markets:
        assert Decimal(p["price_diff_bps"]) == SLIPPAGE_BPS
        b, r = Decimal(p["backtest_price"]), Decimal(p["run_price"])
        assert r == (
            b * (1 + SLIPPAGE_BPS / 10_000)
            if p["side"] == "BUY"
            else b * (1 - SLIPPAGE_BPS / 10_000)
        )
        assert Decimal(p["run_qty"]) == Decimal(p["backtest_qty"])  # equal as numbers
        # the fee follows the price: 0.1 % of the notional on both sides
        assert Decimal(p["fee_diff"]) == (
            Decimal(p["run_qty"]) * (r - b) * Decimal("0.001")
        ).quantize(Decimal("0.00000001"))
        assert p["latency_ms"] is not None
    assert report["price_diff_bps"] == {"mean": "10", "min": "10", "max": "10"}
    page = html.read_text()
    assert "<section id='parity'>" in page
    assert "matched" in page


async def test_parity_of_a_paper_run_finds_the_same_orders_at_the_same_prices(
    tmp_path: Path,
) -> None:
    """Paper (spot): market data from the fake, fills from the SimExchange, as the backtest."""
    spot = FakeBinance(futures=False)
    await spot.start()
    config = UnifiedConfig.model_validate(
        {
            "spot_enabled": True,  # off by default since issue 15
            "futures_enabled": False,
            "api_enabled": False,  # not read here; 8080 may be taken (a running daemon)
            "spot_watchlist": [SYMBOL],
            "spot_strategy": "sma_cross",
            "timeframe": "1m",
            "spot_scan_interval_seconds": 1,
            "monitor_interval_seconds": 0.1,
            "spot_min_confidence": 0,
            "spot_stop_loss_pct": 30,  # resting on the simulated venue, never reached here
            "slippage_bps": 5,  # the paper venue's and the backtest's, alike
            "sqlite_path": str(tmp_path / "paper.db"),
            "venue_state_dir": str(tmp_path / "state"),
            "candle_record_dir": str(tmp_path / "recorded"),
            "venue_urls": binance_urls(spot=spot),
        }
    )
    url = resolve_database_url(None, str(tmp_path / "paper.db"))
    try:
        await _trade_the_path(spot, config, EnvConfig(mode="paper"), url, "spot")
    finally:
        await spot.stop()
    report = await asyncio.to_thread(
        _cli, ["--engine", "spot", "--tolerance-s", "0", "--json"], config, url
    )
    orders = report["orders"]
    assert (orders["missed"], orders["extra"]) == (0, 0)
    markets = [p for p in report["pairs"] if p["type"] == "MARKET"]
    assert [p["side"] for p in markets] == ["BUY", "SELL"]
    for p in markets:
        assert p["run_price"] == p["backtest_price"]
        assert Decimal(p["run_qty"]) == Decimal(p["backtest_qty"])  # equal as numbers
        assert Decimal(p["price_diff_bps"]) == 0
        assert Decimal(p["fee_diff"]) == 0


def _leg(cid: str, side: str, created_ms: int, price: str = "100") -> Leg:
    p = Decimal(price)
    return Leg(cid, SYMBOL, side, "MARKET", False, Decimal(1), "FILLED", created_ms, "",
               Decimal(1), p, Decimal(0), created_ms)  # fmt: skip


def test_pairing_with_a_tolerance_reports_missed_and_extra_orders() -> None:
    backtest = [_leg("b1", "BUY", 60_001), _leg("b2", "BUY", 180_001), _leg("b3", "SELL", 240_001)]
    run = [_leg("r1", "BUY", 30_000), _leg("r2", "BUY", 185_000), _leg("r3", "SELL", 400_000)]
    pairs = pair_orders(backtest, run, tolerance_ms=60_000)
    kinds = [(p.kind, p.backtest and p.backtest.client_order_id, p.run and p.run.client_order_id)
             for p in pairs]  # fmt: skip
    assert kinds == [
        ("extra", None, "r1"),  # sent before the candle the backtest acted on closed
        ("missed", "b1", None),
        ("matched", "b2", "r2"),
        ("missed", "b3", None),  # the run's sell came more than a minute after the close
        ("extra", None, "r3"),
    ]
    matched = next(p for p in pairs if p.kind == "matched")
    assert matched.latency_ms == 185_000 - 180_000


def test_price_difference_is_against_the_taker() -> None:
    buy = Pair(_leg("b", "BUY", 1, "100"), _leg("r", "BUY", 1, "100.1"))
    sell = Pair(_leg("b", "SELL", 1, "100"), _leg("r", "SELL", 1, "100.1"))
    assert buy.price_diff_bps == Decimal(10)  # paid more: worse
    assert sell.price_diff_bps == Decimal(-10)  # sold higher: better


def test_parity_on_a_missing_database_is_one_config_error_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.integration.daemon.support import MAIN, cli_env

    missing = tmp_path / "none.db"
    argv = ["--env-file", "/dev/null", "parity", "--engine", "futures", "--db", str(missing)]
    proc = subprocess.run(
        [sys.executable, str(MAIN), *argv],
        capture_output=True, text=True, env=cli_env(), timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"kinetic: configuration error: --db: no database at {missing}"
    ]
    assert not missing.exists()

"""ccxt (a client nobody here wrote) trades on the four sandbox venues, started as processes.

Per venue: markets, ticker(s), candles, balance, limit and market orders with a client
order id, fetch, open orders, cancel by id and by client id, trades; on the futures
venues also leverage, positions, a reduce-only stop (fetched and cancelled) and a close.
Every URL ccxt requested is loopback (any other host is refused before it is sent).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.sandbox.ccxt_driver import LOOPBACK, SYMBOLS, Report, drive
from tests.integration.sandbox.support import first_json_line, spawn

# the calls each venue must answer (futures venues add leverage, positions and a stop)
SPOT_CALLS = [
    "load_markets",
    "fetch_ticker",
    "fetch_tickers",
    "fetch_ohlcv",
    "fetch_balance",
    "create_limit_order",
    "fetch_order",
    "fetch_open_orders",
    "cancel_order_by_id",
    "create_limit_order_2",
    "cancel_order_by_client_id",
    "open_orders_after_cancels",
    "create_market_order",
    "fetch_market_order",
    "fetch_my_trades",
]
FUTURES_CALLS = [
    *SPOT_CALLS[:5],
    "set_leverage",
    "fetch_leverage",
    *SPOT_CALLS[5:],
    "fetch_positions",
    "create_reduce_only_stop",
    "fetch_stop_order",
    "cancel_stop_order",
    "close_position_market",
    "fetch_positions_flat",
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[dict[str, Any]]:
    proc = spawn(["main.py", "sandbox", "--json"])
    try:
        yield first_json_line(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("venue", list(SYMBOLS))
def test_ccxt_trades_on_sandbox_venue_with_every_call_answered_over_loopback_only(
    sandbox: dict[str, Any], venue: str
) -> None:
    report: Report = asyncio.run(drive(venue, sandbox[venue]))
    expected = FUTURES_CALLS if venue in ("binance_usdm", "kraken_futures") else SPOT_CALLS
    if venue == "kraken_spot":
        expected = [*expected, "create_limit_order_userref", "cancel_order_by_userref"]
    failures = [f"{c.name}: {c.error}" for c in report.failures]
    assert not failures, f"{venue}: {len(failures)} of {len(report.calls)} failed: {failures}"
    assert [c.name for c in report.calls] == expected
    hosts = {urlsplit(u.split(" ", 1)[1]).hostname for u in report.urls}
    assert report.urls
    assert hosts <= set(LOOPBACK), f"non-loopback hosts: {hosts}"
    print(f"\n{venue}: {len(report.calls)} ccxt calls, 0 failed, {len(report.urls)} requests")

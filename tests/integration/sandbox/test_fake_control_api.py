"""The runner (``python -m kinetic.venues.fakes.serve``) and its ``/_fake`` control API."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kinetic.clock import RealClock
from kinetic.domain import OrderIntent, OrderType, Side
from kinetic.venues.binance.futures import BinanceFuturesClient
from kinetic.venues.kraken.futures import KrakenFuturesClient
from tests.integration.sandbox.support import first_json_line, spawn


def _serve(venue: str, *extra: str) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
    proc = spawn(["-m", "kinetic.venues.fakes.serve", "--venue", venue, *extra])
    try:
        yield first_json_line(proc), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@pytest.fixture
def usdm(tmp_path: Path) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
    state = tmp_path / "state.json"
    yield from _serve("binance_usdm", "--cash", "5000", "--state-file", str(state))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _call(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    async with http.request(method, url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_control_api_reads_state_cancels_stops_closes_positions_and_injects_faults(
    usdm: tuple[dict[str, Any], subprocess.Popen[str]], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hello, proc = usdm
    ctl = hello["control"]
    assert (hello["venue"], hello["pid"]) == ("binance_usdm", proc.pid)
    state = await _call(http, "GET", f"{ctl}/state")
    assert state["balances"] == {"USDT": "5000"}
    assert (state["open_orders"], state["positions"]) == ([], [])
    await _call(http, "POST", f"{ctl}/price", {"symbol": "BTCUSDT", "price": "50000"})

    client = BinanceFuturesClient(
        RealClock(),
        api_key=hello["api_key"],
        api_secret=hello["api_secret"],
        base_url=hello["rest"],
    )
    try:
        buy = OrderIntent("futures", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("0.010"), "b1")
        await client.place_order(buy)
        stop = OrderIntent(
            "futures",
            "BTCUSDT",
            Side.SELL,
            OrderType.STOP_MARKET,
            Decimal("0.010"),
            "s1",
            stop_price=Decimal(40000),
            reduce_only=True,
        )
        await client.place_order(stop)
        state = await _call(http, "GET", f"{ctl}/state")
        assert [Decimal(p["qty"]) for p in state["positions"]] == [Decimal("0.01")]
        assert [(o["client_id"], o["type"]) for o in state["open_orders"]] == [
            ("s1", "STOP_MARKET")
        ]
        assert [f["client_id"] for f in state["fills"]] == ["b1"]
        assert state["requests"]["total"] >= 2

        # the stop is cancelled by hand: the venue holds no stop any more
        cancelled = await _call(http, "POST", f"{ctl}/cancel_stops", {})
        assert len(cancelled["cancelled"]) == 1
        assert await client.get_open_orders("BTCUSDT") == []
        # the position is closed by hand with a reduce-only market order
        closed = await _call(http, "POST", f"{ctl}/close_position", {"symbol": "BTCUSDT"})
        assert Decimal(closed["closed"]) == Decimal("0.01")
        assert await client.get_positions() == []

        # a 5xx for the next ticker request only
        await _call(http, "POST", f"{ctl}/fault", {"kind": "500", "path": "/fapi/v1/ticker/price"})
        url = f"{hello['rest']}/fapi/v1/ticker/price?symbol=BTCUSDT"
        async with http.get(url) as resp:
            assert resp.status == 500
        async with http.get(url) as resp:
            assert resp.status == 200
        async with http.post(f"{ctl}/fault", json={"kind": "teapot"}) as resp:
            assert resp.status == 400
    finally:
        await client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    written = json.loads((tmp_path / "state.json").read_text())
    assert written["venue"] == "binance_usdm"
    assert [f["client_id"] for f in written["fills"]][:1] == ["b1"]


async def test_kraken_futures_control_closes_by_hand_and_answers_rate_limits(
    http: aiohttp.ClientSession,
) -> None:
    for hello, _proc in _serve("kraken_futures", "--cash", "2000"):
        ctl = hello["control"]
        assert (await _call(http, "GET", f"{ctl}/state"))["balances"] == {"USD": "2000"}
        client = KrakenFuturesClient(
            RealClock(),
            api_key=hello["api_key"],
            api_secret=hello["api_secret"],
            base_url=hello["rest"],
        )
        try:
            await client.place_order(
                OrderIntent("futures", "BTCUSD", Side.SELL, OrderType.MARKET, Decimal("0.01"), "k1")
            )
            state = await _call(http, "GET", f"{ctl}/state")
            assert [(p["symbol"], p["qty"]) for p in state["positions"]] == [("BTCUSD", "-0.01")]
            await _call(http, "POST", f"{ctl}/close_position", {"symbol": "BTCUSD"})
            assert (await _call(http, "GET", f"{ctl}/state"))["positions"] == []
            await _call(http, "POST", f"{ctl}/fault", {"kind": "429"})
            async with http.get(f"{hello['rest']}/derivatives/api/v3/tickers") as resp:
                assert (await resp.json())["error"] == "apiLimitExceeded"
        finally:
            await client.close()


def test_runner_refuses_a_host_that_is_not_loopback() -> None:
    proc = spawn(
        ["-m", "kinetic.venues.fakes.serve", "--venue", "kraken_spot", "--host", "0.0.0.0"]
    )
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "only loopback hosts" in err

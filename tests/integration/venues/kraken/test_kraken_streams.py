"""Kraken WS v2 candles: closed-candle detection, reconnect + REST backfill, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from kinetic.clock import ManualClock
from kinetic.domain import Candle
from kinetic.venues.fakes.kraken_server import FakeKrakenSpot
from kinetic.venues.kraken.spot import KrakenSpotClient
from kinetic.venues.kraken.streams import KrakenCandleStream

KEY = "stream-key"
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
T0 = 1_700_000_040  # a minute boundary, seconds


def t(i: int) -> int:
    return T0 + 60 * i


def rest_row(i: int) -> list[Any]:
    p = str(100 + i)
    return [t(i), p, p, p, p, p, "1.0", 3]


def ws_entry(i: int) -> dict[str, Any]:
    begin = datetime.fromtimestamp(t(i), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
    p = 100.0 + i
    return {
        "symbol": "BTC/USDT",
        "open": p,
        "high": p,
        "low": p,
        "close": p,
        "trades": 3,
        "volume": 1.0,
        "vwap": p,
        "interval_begin": begin,
        "interval": 1,
    }


async def until(cond: Callable[[], bool], clock: ManualClock, step: float = 0.0) -> None:
    """Poll ``cond`` (advancing the fake clock by ``step`` per turn) with a 5 s deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met before the deadline")
        if step:
            clock.advance(step)
        await asyncio.sleep(0.005)


@pytest.fixture
async def env() -> AsyncIterator[tuple[FakeKrakenSpot, KrakenSpotClient, ManualClock]]:
    clock = ManualClock(float(t(2)))
    srv = FakeKrakenSpot(KEY, SECRET, clock)
    await srv.start()
    client = KrakenSpotClient(clock, api_key=KEY, api_secret=SECRET, base_url=srv.base_url)
    yield srv, client, clock
    await client.close()
    await srv.stop()


async def collect(stream: KrakenCandleStream, out: list[Candle]) -> None:
    async for candle in stream.candles():
        out.append(candle)


async def test_dropped_stream_reconnects_backfills_and_delivers_each_candle_once(env: Any) -> None:
    srv, client, clock = env
    srv.ohlc["XBTUSDT"] = [rest_row(0), rest_row(1), rest_row(2)]
    srv.ws_ohlc[:] = [ws_entry(1), ws_entry(2)]
    stream = KrakenCandleStream(
        client,
        clock,
        "BTCUSDT",
        "1m",
        since_ms=t(0) * 1000,
        ws_url=srv.ws_url + "/v2",
        silence_timeout_seconds=30,
    )
    got: list[Candle] = []
    task = asyncio.create_task(collect(stream, got), name="test-ohlc-consumer")
    try:
        await until(lambda: len(got) == 2 and srv.subscribe_count == 1, clock)
        await srv.push("ohlc", [ws_entry(3)])  # closes t2
        await until(lambda: len(got) == 3, clock)
        await srv.drop_ws()
        srv.ohlc["XBTUSDT"] = [rest_row(i) for i in range(7)]  # t6 is still open
        srv.ws_ohlc[:] = [ws_entry(5), ws_entry(6)]
        await until(lambda: srv.subscribe_count == 2 and len(got) == 6, clock, step=1.0)
        await srv.push("ohlc", [ws_entry(6), ws_entry(7)])  # an update of t6, then t7
        await until(lambda: len(got) == 7, clock)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [c.open_time_ms // 1000 for c in got] == [t(i) for i in range(7)]
    assert got[5].close == 105.0


async def test_silent_stream_is_detected_on_the_clock_and_reconnected(env: Any) -> None:
    srv, client, clock = env
    srv.ohlc["XBTUSDT"] = [rest_row(0), rest_row(1), rest_row(2)]
    stream = KrakenCandleStream(
        client,
        clock,
        "BTCUSDT",
        "1m",
        ws_url=srv.ws_url + "/v2",
        ping_interval_seconds=5,
        silence_timeout_seconds=20,
    )
    got: list[Candle] = []
    task = asyncio.create_task(collect(stream, got), name="test-ohlc-consumer")
    try:
        await until(lambda: srv.subscribe_count == 1, clock)
        srv.mute_current_sockets()
        await until(lambda: srv.subscribe_count == 2, clock, step=5.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert stream.connects >= 2


async def test_gap_inside_the_stream_is_filled_from_rest(env: Any) -> None:
    srv, client, clock = env
    srv.ohlc["XBTUSDT"] = [rest_row(i) for i in range(5)]
    srv.ws_ohlc[:] = [ws_entry(1)]
    stream = KrakenCandleStream(
        client, clock, "BTCUSDT", "1m", since_ms=t(1) * 1000, ws_url=srv.ws_url + "/v2"
    )
    got: list[Candle] = []
    task = asyncio.create_task(collect(stream, got), name="test-ohlc-consumer")
    try:
        await until(lambda: srv.subscribe_count == 1 and len(got) == 3, clock)  # t1..t3 by REST
        await srv.push("ohlc", [ws_entry(4), ws_entry(5)])  # closes t4 (t4 not yet via REST)
        await until(lambda: len(got) == 4, clock)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [c.open_time_ms // 1000 for c in got] == [t(1), t(2), t(3), t(4)]

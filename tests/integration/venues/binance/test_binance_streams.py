"""Kline stream: exactly-once closed candles across drops, silence and backfill."""

from __future__ import annotations

from typing import Any

from kinetic.clock import ManualClock
from kinetic.domain import Candle
from kinetic.venues.binance.streams import MarketStream
from kinetic.venues.http import RetryPolicy
from tests.fake_venues.waiting import wait_for

BASE_MS = (1_700_000_000 - 3600) // 60 * 60_000


def open_ms(i: int) -> int:
    return BASE_MS + i * 60_000


async def make_stream(
    make_pair: Any,
    clock: ManualClock,
    got: list[Candle],
    futures: bool = False,
    heartbeat: float = 20.0,
) -> tuple[Any, MarketStream]:
    server, client = await make_pair(clock, futures=futures)

    async def on_candle(c: Candle) -> None:
        got.append(c)

    path = "/market/stream" if futures else "/stream"
    stream = MarketStream(
        server.ws_url + path,
        ["BTCUSDT"],
        "1m",
        clock,
        client,
        on_candle,
        heartbeat_seconds=heartbeat,
        yield_every=2,
        retry=RetryPolicy(base_seconds=1, cap_seconds=4),
    )
    stream.start()
    await wait_for(lambda: server.ws_connects == 1 and server.market_ws)
    return server, stream


async def test_kline_stream_when_dropped_then_reconnects_backfills_exactly_once(
    make_pair: Any,
) -> None:
    clock, got = ManualClock(), []
    server, stream = await make_stream(make_pair, clock, got)
    try:
        for i in range(3):
            row = server.add_candle("BTCUSDT", open_ms(i), 100.0 + i)
            await server.push_kline("BTCUSDT", row, closed=False)  # in-progress update
            await server.push_kline("BTCUSDT", row, closed=True)
        await wait_for(lambda: len(got) == 3)
        await server.drop_ws()
        await wait_for(lambda: clock.sleepers == 1)  # backing off before reconnecting
        server.add_candle("BTCUSDT", open_ms(3), 103.0)  # missed while disconnected
        server.add_candle("BTCUSDT", open_ms(4), 104.0)
        clock.advance(10)
        await wait_for(lambda: len(got) == 5 and server.market_ws)
        await server.push_kline("BTCUSDT", server.book.candles["BTCUSDT"][4], closed=True)
        row = server.add_candle("BTCUSDT", open_ms(5), 105.0)
        await server.push_kline("BTCUSDT", row, closed=True)
        await wait_for(lambda: len(got) == 6)
    finally:
        await stream.stop()
    assert [c.open_time_ms for c in got] == [open_ms(i) for i in range(6)]
    assert server.ws_connects == 2


async def test_kline_stream_when_connection_goes_silent_then_reconnects(
    make_pair: Any,
) -> None:
    clock, got = ManualClock(), []
    server, stream = await make_stream(make_pair, clock, got, futures=True, heartbeat=0.1)
    try:
        server.ws_silent = True  # no pongs, no data
        await wait_for(lambda: clock.sleepers == 1)
        server.ws_silent = False
        clock.advance(10)
        await wait_for(lambda: server.ws_connects == 2 and server.market_ws)
        row = server.add_candle("BTCUSDT", open_ms(0), 100.0)
        await server.push_kline("BTCUSDT", row, closed=True)
        await wait_for(lambda: len(got) == 1)
    finally:
        await stream.stop()


async def test_kline_stream_when_malformed_messages_then_skipped(make_pair: Any) -> None:
    clock, got = ManualClock(), []
    server, stream = await make_stream(make_pair, clock, got)
    try:
        await server.push_raw("btcusdt@kline_1m", "not json")
        await server.push_raw("btcusdt@kline_1m", '{"stream":"btcusdt@kline_1m","data":{}}')
        row = server.add_candle("BTCUSDT", open_ms(0), 100.0)
        await server.push_kline("BTCUSDT", row, closed=True)
        await wait_for(lambda: len(got) == 1)
    finally:
        await stream.stop()
    assert server.ws_connects == 1

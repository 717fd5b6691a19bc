"""Private streams: USD-M listenKey on /private and spot WS-API subscribe.signature."""

from __future__ import annotations

from typing import Any

from kinetic.clock import ManualClock
from kinetic.domain import Order, OrderStatus
from kinetic.venues.binance.user_streams import FuturesUserStream, SpotUserStream
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET
from tests.fake_venues.waiting import wait_for


async def test_futures_user_stream_when_order_event_then_domain_order_and_keepalive(
    make_pair: Any,
) -> None:
    clock, got = ManualClock(), []
    server, client = await make_pair(clock, futures=True)

    async def on_order(o: Order) -> None:
        got.append(o)

    stream = FuturesUserStream(client.rest, clock, on_order, url=server.ws_url + "/private/ws")
    stream.start()
    try:
        await wait_for(lambda: server.user_ws)
        await server.push_user_event(
            {
                "e": "ORDER_TRADE_UPDATE",
                "E": 5,
                "o": {
                    "s": "BTCUSDT",
                    "c": "KF-1",
                    "S": "BUY",
                    "o": "MARKET",
                    "q": "0.01",
                    "p": "0",
                    "ap": "50000",
                    "X": "FILLED",
                    "i": 9,
                    "z": "0.01",
                    "R": False,
                },
            }
        )
        await server.push_user_event({"e": "ACCOUNT_UPDATE", "E": 6})
        await wait_for(lambda: len(got) == 1)
        clock.advance(1800)  # keepalive PUT
        await wait_for(lambda: any(m == "PUT" for m, _, _ in server.requests))
    finally:
        await stream.stop()
    assert got[0].client_order_id == "KF-1"
    assert got[0].status is OrderStatus.FILLED


async def test_spot_user_stream_when_subscribed_by_signature_then_execution_reports(
    make_pair: Any,
) -> None:
    clock, got = ManualClock(), []
    server, _ = await make_pair(clock)

    async def on_order(o: Order) -> None:
        got.append(o)

    stream = SpotUserStream(
        clock, on_order, api_key=API_KEY, api_secret=API_SECRET, url=server.ws_url + "/ws-api/v3"
    )
    stream.start()
    try:
        await wait_for(lambda: server.user_ws)
        await server.push_user_event(
            {
                "e": "executionReport",
                "E": 7,
                "s": "BTCUSDT",
                "c": "KS-1",
                "S": "SELL",
                "o": "LIMIT",
                "q": "0.5",
                "p": "60000",
                "X": "NEW",
                "i": 3,
                "z": "0",
                "Z": "0",
            }
        )
        await wait_for(lambda: len(got) == 1)
    finally:
        await stream.stop()
    assert got[0].client_order_id == "KS-1"
    assert got[0].status is OrderStatus.NEW

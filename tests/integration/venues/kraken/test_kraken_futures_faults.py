"""Kraken Futures specifics against the fake server: stops, leverage, positions, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from kinetic.domain import OrderIntent, OrderStatus, OrderType, PositionSide, Side
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from kinetic.venues.base.errors import AuthError, InsufficientFunds
from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
from kinetic.venues.kraken.futures import KrakenFuturesClient
from tests.fake_venues.fast_clock import AutoClock

KEY = "fault-key-futures"
SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="


@pytest.fixture
async def server() -> AsyncIterator[FakeKrakenFutures]:
    srv = FakeKrakenFutures(KEY, SECRET, AutoClock())
    await srv.start()
    srv.set_price("PF_XBTUSD", "50000")
    yield srv
    await srv.stop()


@pytest.fixture
async def venue(server: FakeKrakenFutures) -> AsyncIterator[KrakenFuturesClient]:
    client = KrakenFuturesClient(
        server.clock, api_key=KEY, api_secret=SECRET, base_url=server.base_url
    )
    yield client
    await client.close()


def intent(
    cid: str, side: Side = Side.BUY, kind: OrderType = OrderType.MARKET, **kw: object
) -> OrderIntent:
    return OrderIntent("futures", "BTCUSD", side, kind, Decimal("0.01"), cid, **kw)  # type: ignore[arg-type]


async def test_disconnect_after_accept_on_sendorder_yields_exactly_one_order(
    server: FakeKrakenFutures, venue: KrakenFuturesClient
) -> None:
    oms = OrderManager("futures", venue, MemoryRecorder(), server.clock)
    server.fail("sendorder", "disconnect_after_accept")
    order = await oms.submit(intent("KF-BTCUSD-0000001"))
    assert server.sendorder_calls == 1
    assert order.status is OrderStatus.FILLED


async def test_reduce_only_stop_is_sent_as_stp_with_reduce_only(
    server: FakeKrakenFutures, venue: KrakenFuturesClient
) -> None:
    await venue.place_order(intent("entry-1"))
    stop = await venue.place_order(
        intent(
            "stop-1",
            Side.SELL,
            OrderType.STOP_MARKET,
            stop_price=Decimal("45000.3"),
            reduce_only=True,
        )
    )
    assert stop.status is OrderStatus.NEW
    sent = next(o for o in server.orders.values() if o["cliOrdId"] == "stop-1")
    assert (sent["orderType"], sent["reduceOnly"], sent["stopPrice"]) == ("stp", True, "45000.5")
    [open_stop] = await venue.get_open_orders("BTCUSD")
    assert open_stop.order_type is OrderType.STOP_MARKET
    assert open_stop.reduce_only


async def test_leverage_positions_balances_and_dead_man_switch(
    server: FakeKrakenFutures, venue: KrakenFuturesClient
) -> None:
    await venue.set_leverage("BTCUSD", 3)
    assert server.leverage == {"PF_XBTUSD": "3"}
    await venue.place_order(intent("pos-1"))
    [pos] = await venue.get_positions()
    assert (pos.symbol, pos.side, pos.quantity, pos.leverage) == (
        "BTCUSD",
        PositionSide.LONG,
        Decimal("0.01"),
        3,
    )
    balances = await venue.get_balances()
    assert balances["USD"].free == Decimal(90000)
    await venue.set_dead_man_switch(60)
    assert server.dead_man_timeout == 60


async def test_rate_limit_is_retried_and_send_status_rejection_is_classified(
    server: FakeKrakenFutures, venue: KrakenFuturesClient
) -> None:
    server.fail("openorders", "rate_limit")
    assert await venue.get_open_orders() == []
    assert server.clock.sleeps
    server.ep_sendorder = lambda p: {"sendStatus": {"status": "insufficientAvailableFunds"}}  # type: ignore[method-assign]
    with pytest.raises(InsufficientFunds):
        await venue.place_order(intent("poor-1"))


async def test_wrong_secret_is_auth_error_without_secret_in_text(
    server: FakeKrakenFutures,
) -> None:
    wrong = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy1zZWNyZXQ="
    client = KrakenFuturesClient(
        server.clock, api_key=KEY, api_secret=wrong, base_url=server.base_url
    )
    with pytest.raises(AuthError) as info:
        await client.get_balances()
    assert wrong not in repr(info.value)
    assert server.last_authent not in repr(info.value)
    await client.close()


async def test_dead_man_switch_is_refreshed_on_the_clock_and_disarmed_on_stop(
    server: FakeKrakenFutures, venue: KrakenFuturesClient
) -> None:
    from kinetic.clock import ManualClock
    from kinetic.venues.kraken.deadman import DeadManSwitch

    clock = ManualClock()
    switch = DeadManSwitch(venue, clock, timeout_seconds=60, refresh_seconds=20)
    switch.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while switch.refreshes < 3:
        assert loop.time() < deadline
        if clock.sleepers:
            clock.advance(20)
        await asyncio.sleep(0.005)
    assert server.dead_man_timeout == 60
    await switch.stop()
    assert server.dead_man_timeout == 0

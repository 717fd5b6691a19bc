"""Fault behaviour of the Binance clients against the fake server."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from kinetic.clock import ManualClock
from kinetic.domain import OrderIntent, OrderStatus, OrderType, Side
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from kinetic.venues.base.errors import (
    AuthError,
    IPBanned,
    OrderStateUnknown,
    TransientError,
    VenueHalted,
)
from tests.fake_venues.fast_clock import FastClock
from tests.fake_venues.waiting import wait_for


def intent(cid: str, qty: str = "0.01", order_type: OrderType = OrderType.MARKET) -> OrderIntent:
    return OrderIntent("spot", "BTCUSDT", Side.BUY, order_type, Decimal(qty), cid)


def posts(server: Any, path: str) -> int:
    return sum(1 for m, p, _ in server.requests if m == "POST" and p == path)


@pytest.mark.parametrize("fault", ["hang_after_accept", "drop_after_accept", "500"])
async def test_oms_submit_when_outcome_unknown_then_looked_up_never_resent(
    make_pair: Any, clock: FastClock, fault: str
) -> None:
    server, client = await make_pair(clock, timeout_seconds=0.3)
    server.set_price("BTCUSDT", Decimal(50000))
    if fault == "500":  # a 5xx before the order reached the book: lookup finds nothing
        server.inject("500", path="/api/v3/order")
    else:
        server.inject(fault, path="/api/v3/order")
    oms = OrderManager("spot", client, MemoryRecorder(), clock)
    order = await oms.submit(intent("KS-BTCUSDT-0000001"))
    assert posts(server, "/api/v3/order") == 1
    if fault == "500":
        assert order.status is OrderStatus.UNKNOWN
        assert server.book.orders == {}
    else:
        assert order.status is OrderStatus.FILLED
        assert list(server.book.orders) == ["KS-BTCUSDT-0000001"]


async def test_place_order_when_timeout_after_accept_then_order_state_unknown(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock, timeout_seconds=0.3)
    server.set_price("BTCUSDT", Decimal(50000))
    server.inject("hang_after_accept", path="/api/v3/order")
    with pytest.raises(OrderStateUnknown) as info:
        await client.place_order(intent("cid-unknown-1"))
    assert info.value.client_order_id == "cid-unknown-1"
    found = await client.get_order("BTCUSDT", "cid-unknown-1")
    assert found is not None
    assert found.status is OrderStatus.FILLED


async def test_ip_ban_418_when_active_then_no_request_leaves_until_it_ends(
    make_pair: Any,
) -> None:
    clock = ManualClock()
    server, client = await make_pair(clock)
    server.set_price("BTCUSDT", Decimal(50000))
    await client.get_instruments()
    server.inject("418", path="/api/v3/ticker/price", retry_after=120)
    first = asyncio.create_task(client.get_ticker_price("BTCUSDT"), name="t-first")
    await wait_for(lambda: clock.sleepers == 1)
    second = asyncio.create_task(client.get_open_orders("BTCUSDT"), name="t-second")
    await wait_for(lambda: clock.sleepers == 2)
    sent_during_ban = len(server.requests)
    clock.advance(119)
    await asyncio.sleep(0.05)
    assert len(server.requests) == sent_during_ban
    clock.advance(1)
    assert await first == Decimal(50000)
    assert await second == []
    assert server.rejected_during_ban == 0


async def test_ip_ban_when_longer_than_inline_wait_then_raised_without_sending(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock)
    server.set_price("BTCUSDT", Decimal(50000))
    client.rest.http.gate.pause(3600, ban=True)
    with pytest.raises(IPBanned) as info:
        await client.get_ticker_price("BTCUSDT")
    assert info.value.retry_after == pytest.approx(3600)
    assert server.requests == []


async def test_429_when_retry_after_given_then_waits_exactly_that_long(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock)
    server.set_price("BTCUSDT", Decimal(50000))
    server.inject("429", path="/api/v3/ticker/price", retry_after=7)
    assert await client.get_ticker_price("BTCUSDT") == Decimal(50000)
    assert clock.sleeps == [7.0]
    times = [t for _, p, t in server.requests if p == "/api/v3/ticker/price"]
    assert times[1] - times[0] == pytest.approx(7.0)


async def test_timestamp_1021_when_server_clock_jumps_then_resync_and_resign_once(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock)
    server.set_price("BTCUSDT", Decimal(50000))
    await client.get_open_orders("BTCUSDT")
    server.skew_ms = 30_000  # venue clock now 30 s ahead: our timestamps are stale
    order = await client.place_order(intent("cid-skew-1"))
    assert order.status is OrderStatus.FILLED
    assert posts(server, "/api/v3/order") == 2  # rejected once (-1021), then re-signed
    assert len(server.book.orders) == 1
    assert sum(1 for _, p, _ in server.requests if p == "/api/v3/time") == 2


async def test_5xx_on_reads_when_persistent_then_venue_halted_after_five(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock)
    server.inject("503", path="/api/v3/exchangeInfo", times=100)
    with pytest.raises(TransientError):
        await client.get_instruments()
    with pytest.raises(VenueHalted):
        await client.get_instruments()
    assert client.rest.http.failures.consecutive == 5
    assert all(0.25 <= s <= 8 for s in clock.sleeps)  # backoff with jitter


async def test_bad_secret_when_signed_call_then_auth_error(
    make_pair: Any, clock: FastClock
) -> None:
    _server, client = await make_pair(clock)
    client.rest._secret = "wrong-secret-value"
    with pytest.raises(AuthError):
        await client.get_balances()
    assert client.rest.http.failures.consecutive == 0

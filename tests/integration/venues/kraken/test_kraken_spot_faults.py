"""Fault injection against the fake Kraken Spot server: unknown outcomes, limits, secrets."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from kinetic.domain import OrderIntent, OrderStatus, OrderType, Side
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from kinetic.logging import configure_logging
from kinetic.venues.base.errors import AuthError, OrderStateUnknown, VenueError, VenueHalted
from kinetic.venues.fakes.kraken_server import FakeKrakenSpot
from kinetic.venues.http import HttpSettings, RetryPolicy
from kinetic.venues.kraken.spot import KrakenSpotClient
from tests.fake_venues.fast_clock import AutoClock

KEY = "fault-key-spot-123"
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


@pytest.fixture
async def server() -> AsyncIterator[FakeKrakenSpot]:
    srv = FakeKrakenSpot(KEY, SECRET, AutoClock())
    await srv.start()
    srv.set_price("XBTUSDT", "50000")
    yield srv
    await srv.stop()


def client(srv: FakeKrakenSpot, *, timeout: float = 5.0, secret: str = SECRET) -> KrakenSpotClient:
    settings = HttpSettings(timeout_seconds=timeout, retry=RetryPolicy(max_attempts=4))
    return KrakenSpotClient(
        srv.clock, api_key=KEY, api_secret=secret, base_url=srv.base_url, settings=settings
    )


def buy(cid: str, order_type: OrderType = OrderType.MARKET) -> OrderIntent:
    price = Decimal("40000") if order_type is OrderType.LIMIT else None
    return OrderIntent("spot", "BTCUSDT", Side.BUY, order_type, Decimal("0.01"), cid, price)


async def test_disconnect_after_accept_places_exactly_one_order_via_oms(
    server: FakeKrakenSpot,
) -> None:
    venue = client(server)
    oms = OrderManager("spot", venue, MemoryRecorder(), server.clock)
    server.fail("AddOrder", "disconnect_after_accept")
    order = await oms.submit(buy("KS-BTCUSDT-0000001"))
    assert server.add_order_calls == 1
    assert len(server.orders) == 1
    assert order.status is OrderStatus.FILLED
    assert order.venue_order_id in server.orders
    await venue.close()


async def test_timeout_after_accept_raises_unknown_then_lookup_finds_the_one_order(
    server: FakeKrakenSpot,
) -> None:
    venue = client(server, timeout=0.3)
    server.fail("AddOrder", "timeout_after_accept")
    with pytest.raises(OrderStateUnknown) as info:
        await venue.place_order(buy("KS-BTCUSDT-0000002", OrderType.LIMIT))
    assert info.value.client_order_id == "KS-BTCUSDT-0000002"
    found = await venue.get_order("BTCUSDT", "KS-BTCUSDT-0000002")
    assert found is not None
    assert found.status is OrderStatus.NEW
    assert server.add_order_calls == 1
    await venue.close()


async def test_unavailable_on_add_order_is_unknown_outcome_not_resent(
    server: FakeKrakenSpot,
) -> None:
    venue = client(server)
    server.fail("AddOrder", "unavailable")
    with pytest.raises(OrderStateUnknown):
        await venue.place_order(buy("c-unavail"))
    assert server.calls["AddOrder"] == 1
    await venue.close()


async def test_rate_limit_and_invalid_nonce_are_retried_with_backoff(
    server: FakeKrakenSpot,
) -> None:
    venue = client(server)
    server.fail("OpenOrders", "rate_limit")
    server.fail("AddOrder", "invalid_nonce")
    placed = await venue.place_order(buy("c-retry", OrderType.LIMIT))
    assert placed.status is OrderStatus.NEW
    assert [o.client_order_id for o in await venue.get_open_orders("BTCUSDT")] == ["c-retry"]
    assert server.add_order_calls == 1
    assert server.clock.sleeps  # the pause ran on the injected clock
    await venue.close()


async def test_http_500_on_read_is_retried(server: FakeKrakenSpot) -> None:
    venue = client(server)
    server.fail("OpenOrders", "http_500", times=2)
    assert await venue.get_open_orders() == []
    assert server.calls["OpenOrders"] == 3
    await venue.close()


async def test_five_consecutive_failures_halt_the_venue(server: FakeKrakenSpot) -> None:
    venue = client(server)  # 4 attempts per call: the 2nd call's 1st retry is failure 5
    server.fail("OpenOrders", "http_500", times=10)
    with pytest.raises(VenueError):
        await venue.get_open_orders()
    with pytest.raises(VenueHalted):
        await venue.get_open_orders()
    await venue.close()


async def test_malformed_assetpair_is_logged_and_skipped(server: FakeKrakenSpot) -> None:
    server.pairs["BROKEN"] = {"altname": "BROKEN"}
    venue = client(server)
    instruments = await venue.get_instruments()
    assert set(instruments) == {"BTCUSDT", "ETHUSD", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"}
    await venue.close()


async def test_secret_and_signature_never_in_logs_or_exceptions(server: FakeKrakenSpot) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    wrong = "c2VjcmV0LXRoYXQtaXMtd3Jvbmctc2VjcmV0LXRoYXQtaXMtd3Jvbmc="
    venue = client(server, secret=wrong)
    with pytest.raises(AuthError) as info:
        await venue.get_balances()
    server.fail("OpenOrders", "http_500")
    good = client(server)
    await good.get_open_orders()
    text = stream.getvalue() + str(info.value) + repr(info.value)
    assert server.last_sign
    for secret in (wrong, SECRET, server.last_sign):
        assert secret not in text
    for line in stream.getvalue().splitlines():
        json.loads(line)
    await venue.close()
    await good.close()

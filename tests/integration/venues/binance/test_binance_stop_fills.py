"""A triggered USD-M stop's fill carries the stop's client id (through ``actualOrderId``).

On the venue a triggered algo order is executed by a new regular order; its trades carry
that order's id, which the algo order reports as ``actualOrderId``. The fake does the
same, and the real client attributes those trades to the stop's ``clientAlgoId``: while
running, and after a restart (a fresh client) that looked the journaled stop up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from kinetic.domain import OrderIntent, OrderStatus, OrderType, Side
from kinetic.venues.binance import BinanceFuturesClient, futures
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from kinetic.venues.fakes.control import BinanceControl
from kinetic.venues.http import HttpSettings, RetryPolicy
from tests.fake_venues.fast_clock import FastClock

SYMBOL = "BTCUSDT"


def intent(cid: str, side: Side, otype: OrderType, stop: str | None = None) -> OrderIntent:
    return OrderIntent(
        "futures",
        SYMBOL,
        side,
        otype,
        Decimal("0.010"),
        cid,
        stop_price=Decimal(stop) if stop else None,
        reduce_only=otype is OrderType.STOP_MARKET,
    )


@pytest.fixture
async def fresh_client(
    clock: FastClock,
) -> AsyncIterator[Callable[[FakeBinance], BinanceFuturesClient]]:
    """A new client on an existing fake server: the daemon after a restart."""
    made: list[BinanceFuturesClient] = []

    def make(server: FakeBinance) -> BinanceFuturesClient:
        client = BinanceFuturesClient(
            clock,
            api_key=API_KEY,
            api_secret=API_SECRET,
            base_url=server.url,
            settings=HttpSettings(timeout_seconds=5, retry=RetryPolicy(max_attempts=2)),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def _long_with_stop(server: FakeBinance, client: BinanceFuturesClient) -> None:
    server.set_price(SYMBOL, Decimal(50000))
    await client.place_order(intent("KF-entry-1", Side.BUY, OrderType.MARKET))
    await client.place_order(intent("KF-stop-1", Side.SELL, OrderType.STOP_MARKET, "45000"))


async def test_fake_when_algo_stop_triggers_then_a_regular_order_executes_it(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock, futures=True)
    await _long_with_stop(server, client)
    server.set_price(SYMBOL, Decimal(44000))
    algo = server.book.orders["KF-stop-1"]
    assert algo.status == "FINISHED"
    actual = next(o for o in server.book.orders.values() if o.algo_client_id == "KF-stop-1")
    assert (actual.type, actual.reduce_only, actual.status) == ("MARKET", True, "FILLED")
    assert actual.order_id == algo.actual_order_id != algo.order_id
    assert actual.client_id != "KF-stop-1"  # the venue's own id: not ours to rely on
    stop_trade = server.book.trades[-1]
    assert stop_trade["orderId"] == actual.order_id
    assert server.book.positions[SYMBOL][0] == 0
    shown = server.book.order_json(algo)
    assert shown["algoStatus"] == "FINISHED"
    assert shown["actualOrderId"] == str(actual.order_id)
    # the control API names the algo order beside the executing order's own id
    fill = BinanceControl(server).state()["fills"][-1]
    assert fill["client_id"] == actual.client_id
    assert (fill["algo_client_id"], fill["algo_id"]) == ("KF-stop-1", str(algo.order_id))


async def test_get_fills_when_stop_triggered_then_fill_carries_the_stop_client_id(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock, futures=True)
    await _long_with_stop(server, client)
    assert [f.client_order_id for f in await client.get_fills(SYMBOL)] == ["KF-entry-1"]
    server.set_price(SYMBOL, Decimal(44000))
    fills = await client.get_fills(SYMBOL)
    assert [(f.client_order_id, f.side) for f in fills] == [
        ("KF-entry-1", Side.BUY),
        ("KF-stop-1", Side.SELL),
    ]
    assert fills[1].price == Decimal(44000)
    assert fills[1].quantity == Decimal("0.010")
    found = await client.get_order(SYMBOL, "KF-stop-1")
    assert found is not None
    assert found.status is OrderStatus.FILLED
    # learned once: later reads ask neither the algo service nor the order endpoint
    before = server.request_counts.copy()
    assert before["GET /fapi/v1/algoOrder"] > 0
    assert [f.client_order_id for f in await client.get_fills(SYMBOL)][-1] == "KF-stop-1"
    for path in ("GET /fapi/v1/algoOrder", "GET /fapi/v1/order"):
        assert server.request_counts[path] == before[path]


async def test_get_fills_after_restart_when_journaled_stop_looked_up_then_attributed(
    make_pair: Any, clock: FastClock, fresh_client: Callable[[FakeBinance], BinanceFuturesClient]
) -> None:
    server, client = await make_pair(clock, futures=True)
    await _long_with_stop(server, client)
    server.set_price(SYMBOL, Decimal(44000))  # fired while the daemon was down
    restarted = fresh_client(server)
    found = await restarted.get_order(SYMBOL, "KF-stop-1")  # the OMS's reconcile
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert [f.client_order_id for f in await restarted.get_fills(SYMBOL)] == [
        "KF-entry-1",
        "KF-stop-1",
    ]


async def test_get_fills_after_restart_when_stop_listed_open_then_attributed_later(
    make_pair: Any, clock: FastClock, fresh_client: Callable[[FakeBinance], BinanceFuturesClient]
) -> None:
    server, client = await make_pair(clock, futures=True)
    await _long_with_stop(server, client)
    restarted = fresh_client(server)
    assert [o.client_order_id for o in await restarted.get_open_orders(SYMBOL)] == ["KF-stop-1"]
    server.set_price(SYMBOL, Decimal(44000))
    assert [f.client_order_id for f in await restarted.get_fills(SYMBOL)][-1] == "KF-stop-1"


async def test_get_fills_when_stop_is_not_ours_then_not_attributed_to_a_stop(
    make_pair: Any, clock: FastClock, fresh_client: Callable[[FakeBinance], BinanceFuturesClient]
) -> None:
    """A client that never saw the algo order (another program's stop) does not claim
    its fill: the trade keeps the executing order's own client id."""
    server, client = await make_pair(clock, futures=True)
    await _long_with_stop(server, client)
    server.set_price(SYMBOL, Decimal(44000))
    stranger = fresh_client(server)
    last = (await stranger.get_fills(SYMBOL))[-1]
    actual = server.book.orders["KF-stop-1"].actual_order_id
    assert last.client_order_id == f"auto{actual}"


async def test_algo_id_caches_are_bounded(
    make_pair: Any, clock: FastClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(futures, "ALGO_IDS_KEPT", 2)
    server, client = await make_pair(clock, futures=True)
    server.set_price(SYMBOL, Decimal(50000))
    for n in range(4):
        await client.place_order(intent(f"KF-s{n}", Side.SELL, OrderType.STOP_MARKET, "45000"))
    assert [c for _, c in client._pending_algos.values()] == ["KF-s2", "KF-s3"]
    for n in range(4):
        await client.cancel_order(SYMBOL, f"KF-s{n}")
    assert client._pending_algos == {}


async def test_get_order_when_stop_filled_for_less_then_reports_what_it_executed(
    make_pair: Any, clock: FastClock, fresh_client: Callable[[FakeBinance], BinanceFuturesClient]
) -> None:
    """A position cut by hand before the trigger: the reduce-only stop executes what is
    left and the algo order is FINISHED; its filled quantity is its executing order's,
    not the stop's (the OMS would await the difference as fills that never come)."""
    server, client = await make_pair(clock, futures=True)
    await _long_with_stop(server, client)
    by_hand = OrderIntent(
        "manual", SYMBOL, Side.SELL, OrderType.MARKET, Decimal("0.004"), "KF-hand"
    )
    await client.place_order(by_hand)
    server.set_price(SYMBOL, Decimal(44000))
    assert server.book.positions[SYMBOL][0] == 0
    restarted = fresh_client(server)
    found = await restarted.get_order(SYMBOL, "KF-stop-1")  # the OMS's reconcile
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.quantity == Decimal("0.010")
    assert found.filled_qty == Decimal("0.006")
    assert found.avg_price == Decimal(44000)
    stop_fill = (await restarted.get_fills(SYMBOL))[-1]
    assert (stop_fill.client_order_id, stop_fill.quantity) == ("KF-stop-1", Decimal("0.006"))

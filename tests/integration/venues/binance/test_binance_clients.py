"""Venue-specific behaviour of the Binance clients beyond the contract suite."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kinetic.domain import OrderIntent, OrderStatus, OrderType, PositionSide, Side
from kinetic.venues.base.errors import OrderNotFound, PermanentError
from tests.fake_venues.fast_clock import FastClock


def stop(cid: str, price: str = "45000") -> OrderIntent:
    return OrderIntent(
        "futures",
        "BTCUSDT",
        Side.SELL,
        OrderType.STOP_MARKET,
        Decimal("0.01"),
        cid,
        stop_price=Decimal(price),
        reduce_only=True,
    )


async def test_futures_setup_when_margin_already_isolated_then_minus_4046_is_success(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock, futures=True)
    await client.set_leverage("BTCUSDT", 5)
    await client.set_isolated_margin("BTCUSDT")
    await client.set_isolated_margin("BTCUSDT")  # -4046 "No need to change margin type."
    await client.ensure_one_way_mode()
    server.book.dual_side = True
    with pytest.raises(PermanentError):
        await client.ensure_one_way_mode()
    assert server.book.leverage == {"BTCUSDT": 5}


async def test_futures_stop_when_placed_then_algo_order_found_cancelled_and_kept_by_cancel_all(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock, futures=True)
    server.set_price("BTCUSDT", Decimal(50000))
    placed = await client.place_order(stop("KF-stop-1"))
    assert placed.order_type is OrderType.STOP_MARKET
    assert placed.stop_price == Decimal(45000)
    assert server.book.orders["KF-stop-1"].algo
    assert await client.cancel_all_orders("BTCUSDT") == []
    found = await client.get_order("BTCUSDT", "KF-stop-1")
    assert found is not None
    assert found.status is OrderStatus.NEW
    assert [o.client_order_id for o in await client.get_open_orders("BTCUSDT")] == ["KF-stop-1"]
    canceled = await client.cancel_order("BTCUSDT", "KF-stop-1")
    assert canceled.status is OrderStatus.CANCELED
    with pytest.raises(OrderNotFound):
        await client.cancel_order("BTCUSDT", "KF-stop-1")


async def test_futures_position_fills_balances_and_dead_man_switch(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock, futures=True)
    server.set_price("BTCUSDT", Decimal(50000))
    await client.set_leverage("BTCUSDT", 4)
    await client.place_order(
        OrderIntent("futures", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("0.010"), "KF-1")
    )
    [pos] = await client.get_positions()
    assert (pos.side, pos.quantity, pos.entry_price, pos.leverage) == (
        PositionSide.LONG,
        Decimal("0.010"),
        Decimal(50000),
        4,
    )
    [fill] = await client.get_fills("BTCUSDT")
    assert fill.client_order_id == "KF-1"
    assert fill.side is Side.BUY
    assert (await client.get_balances())["USDT"].free == Decimal(90000)
    await client.set_dead_man_switch(120)
    assert server.book.countdowns == {"BTCUSDT": 120_000}


async def test_spot_klines_when_last_row_still_open_then_dropped(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock)
    now_ms = clock.time_ms()
    minute = now_ms // 60_000 * 60_000
    for i in range(3, 0, -1):
        server.add_candle("BTCUSDT", minute - i * 60_000, 100.0)
    server.add_candle("BTCUSDT", minute, 101.0)  # closes in the future: still open
    candles = await client.get_klines("BTCUSDT", "1m", limit=10)
    assert [c.open_time_ms for c in candles] == [minute - i * 60_000 for i in range(3, 0, -1)]
    since = await client.get_klines("BTCUSDT", "1m", start_ms=minute - 60_000)
    assert [c.open_time_ms for c in since] == [minute - 60_000]


async def test_spot_fills_and_balances_when_limit_crossed_then_fill_has_client_id(
    make_pair: Any, clock: FastClock
) -> None:
    server, client = await make_pair(clock)
    server.set_price("BTCUSDT", Decimal(50000))
    await client.place_order(
        OrderIntent(
            "spot",
            "BTCUSDT",
            Side.BUY,
            OrderType.LIMIT,
            Decimal("0.01"),
            "KS-lim",
            price=Decimal("49000.004"),
        )
    )
    assert server.book.orders["KS-lim"].price == Decimal("49000.00")  # rounded to tick
    client._client_ids.clear()  # as after a restart: learn the id from the venue
    server.set_price("BTCUSDT", Decimal(48000))
    [fill] = await client.get_fills("BTCUSDT", since_ms=1)
    assert (fill.client_order_id, fill.price, fill.is_maker) == ("KS-lim", Decimal(49000), True)
    assert (await client.get_balances())["BTC"].free == Decimal("1.5")
    assert (await client.get_server_time_ms()) == pytest.approx(clock.time_ms(), abs=5)

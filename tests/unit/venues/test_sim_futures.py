"""SimFuturesExchange: margin, leverage, reduce-only, liquidation, funding, dead-man switch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kinetic.clock import ManualClock
from kinetic.domain import (
    Candle,
    MarketType,
    OrderIntent,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
)
from kinetic.venues.base.errors import InsufficientFunds, OrderRejected, PermanentError
from kinetic.venues.sim import SimFuturesExchange, default_instruments, liquidation_price

D = Decimal
SYM = "BTCUSDT"
TAKER = D("0.0005")
MAKER = D("0.0002")


def candle(o: float, h: float, lo: float, c: float, ts: int = 0) -> Candle:
    return Candle(SYM, ts, ts + 59_999, o, h, lo, c, 10.0)


def flat(price: float) -> Candle:
    return candle(price, price, price, price)


def intent(
    side: Side,
    qty: str = "0.1",
    order_type: OrderType = OrderType.MARKET,
    *,
    price: str | None = None,
    stop: str | None = None,
    reduce_only: bool = False,
    cid: str = "c1",
) -> OrderIntent:
    return OrderIntent(
        engine="t",
        symbol=SYM,
        side=side,
        order_type=order_type,
        quantity=D(qty),
        client_order_id=cid,
        price=None if price is None else D(price),
        stop_price=None if stop is None else D(stop),
        reduce_only=reduce_only,
    )


def make(
    wallet: str = "100000", slippage_bps: str = "0", clock: ManualClock | None = None
) -> SimFuturesExchange:
    ex = SimFuturesExchange(
        default_instruments(MarketType.FUTURES, [SYM]),
        clock or ManualClock(),
        D(wallet),
        taker_fee=TAKER,
        maker_fee=MAKER,
        slippage_bps=D(slippage_bps),
    )
    ex.on_candle(flat(50000))
    return ex


async def test_market_long_reserves_margin_and_charges_fee_from_wallet() -> None:
    ex = make()
    await ex.set_leverage(SYM, 10)
    await ex.place_order(intent(Side.BUY))
    (pos,) = await ex.get_positions()
    assert pos.side is PositionSide.LONG
    assert pos.quantity == D("0.1")
    assert pos.entry_price == D("50000")
    assert pos.leverage == 10
    assert pos.isolated_margin == D("500")
    assert ex.wallet_balance() == D("100000") - D("2.5")
    assert ex.available_balance() == D("100000") - D("2.5") - D("500")
    bal = (await ex.get_balances())["USDT"]
    assert bal.locked == D("500")
    assert bal.total == ex.wallet_balance()


async def test_adding_to_position_uses_weighted_average_entry() -> None:
    ex = make()
    await ex.place_order(intent(Side.BUY, cid="a"))
    ex.on_candle(flat(52000))
    await ex.place_order(intent(Side.BUY, "0.3", cid="b"))
    (pos,) = await ex.get_positions()
    assert pos.quantity == D("0.4")
    assert pos.entry_price == D("51500")


async def test_reduction_realizes_pnl_into_wallet() -> None:
    ex = make()
    await ex.place_order(intent(Side.BUY, "0.2", cid="a"))
    ex.on_candle(flat(51000))
    await ex.place_order(intent(Side.SELL, "0.1", cid="b"))
    assert ex.realized_pnl() == D("100")
    fees = D("0.2") * 50000 * TAKER + D("0.1") * 51000 * TAKER
    assert ex.fees_paid() == fees
    assert ex.wallet_balance() == D("100000") + D("100") - fees
    (pos,) = await ex.get_positions()
    assert pos.quantity == D("0.1")
    assert pos.entry_price == D("50000")
    assert pos.unrealized_pnl == D("100")
    assert ex.equity() == ex.wallet_balance() + D("100")


async def test_oversized_opposite_order_flips_position() -> None:
    ex = make()
    await ex.place_order(intent(Side.BUY, "0.1", cid="a"))
    ex.on_candle(flat(49000))
    await ex.place_order(intent(Side.SELL, "0.3", cid="b"))
    (pos,) = await ex.get_positions()
    assert pos.side is PositionSide.SHORT
    assert pos.quantity == D("0.2")
    assert pos.entry_price == D("49000")
    assert ex.realized_pnl() == D("-100")


async def test_short_slippage_sells_lower() -> None:
    ex = make(slippage_bps="10")
    order = await ex.place_order(intent(Side.SELL))
    assert order.avg_price == D("49950.0")


async def test_reduce_only_that_would_increase_is_rejected() -> None:
    ex = make()
    await ex.place_order(intent(Side.BUY, cid="a"))
    with pytest.raises(OrderRejected):
        await ex.place_order(intent(Side.BUY, reduce_only=True, cid="b"))


async def test_reduce_only_without_position_is_rejected() -> None:
    ex = make()
    with pytest.raises(OrderRejected):
        await ex.place_order(intent(Side.SELL, reduce_only=True))


async def test_reduce_only_larger_than_position_is_trimmed() -> None:
    ex = make()
    await ex.place_order(intent(Side.BUY, "0.1", cid="a"))
    order = await ex.place_order(intent(Side.SELL, "0.5", reduce_only=True, cid="b"))
    assert order.quantity == D("0.1")
    assert order.status is OrderStatus.FILLED
    assert await ex.get_positions() == []


async def test_resting_reduce_only_stop_expires_when_position_already_closed() -> None:
    ex = make()
    await ex.place_order(intent(Side.BUY, cid="a"))
    await ex.place_order(
        intent(
            Side.SELL, order_type=OrderType.STOP_MARKET, stop="48000", reduce_only=True, cid="sl"
        )
    )
    await ex.place_order(intent(Side.SELL, cid="exit"))
    assert ex.on_candle(candle(49000, 49000, 47000, 47500)) == []
    order = await ex.get_order(SYM, "sl")
    assert order is not None
    assert order.status is OrderStatus.EXPIRED


async def test_reduce_only_stop_closes_long_at_stop_with_slippage() -> None:
    ex = make(slippage_bps="10")
    await ex.place_order(intent(Side.BUY, cid="a"))
    await ex.place_order(
        intent(
            Side.SELL, order_type=OrderType.STOP_MARKET, stop="48000", reduce_only=True, cid="sl"
        )
    )
    (fill,) = ex.on_candle(candle(49000, 49100, 47900, 48100))
    assert fill.price == D("47952.0")
    assert fill.reduce_only
    assert await ex.get_positions() == []


async def test_limit_entry_reserves_margin_and_fills_as_maker() -> None:
    ex = make()
    await ex.set_leverage(SYM, 5)
    await ex.place_order(intent(Side.BUY, "0.1", OrderType.LIMIT, price="49000"))
    assert ex.available_balance() == D("100000") - D("980")
    (fill,) = ex.on_candle(candle(49500, 49600, 48900, 49200))
    assert fill.is_maker
    assert fill.fee == D("4900") * MAKER
    (pos,) = await ex.get_positions()
    assert pos.isolated_margin == D("980")


async def test_leverage_outside_bounds_rejected() -> None:
    ex = make()
    for bad in (0, 126):
        with pytest.raises(PermanentError):
            await ex.set_leverage(SYM, bad)
    await ex.set_leverage(SYM, 125)
    assert ex.leverage(SYM) == 125


async def test_order_needing_more_margin_than_available_rejected() -> None:
    ex = make(wallet="1000")
    await ex.set_leverage(SYM, 2)
    with pytest.raises(InsufficientFunds):
        await ex.place_order(intent(Side.BUY, "0.1"))  # 2500 margin > 1000
    await ex.set_leverage(SYM, 10)
    await ex.place_order(intent(Side.BUY, "0.1", cid="c2"))  # 500 margin


async def test_lowering_leverage_with_position_needs_margin() -> None:
    ex = make(wallet="1000")
    await ex.set_leverage(SYM, 10)
    await ex.place_order(intent(Side.BUY, "0.1"))
    with pytest.raises(InsufficientFunds):
        await ex.set_leverage(SYM, 1)


async def test_isolated_margin_is_recorded() -> None:
    ex = make()
    await ex.set_isolated_margin(SYM)
    assert ex.isolated_symbols == frozenset({SYM})


def test_liquidation_price_formula() -> None:
    mmr = D("0.004")
    assert liquidation_price(PositionSide.LONG, D("50000"), 10, mmr) == D("45200.000")
    assert liquidation_price(PositionSide.SHORT, D("50000"), 10, mmr) == D("54800.000")
    assert liquidation_price(PositionSide.LONG, D("50000"), 1, mmr) == D("200.000")


async def test_positions_report_liquidation_price() -> None:
    ex = make()
    await ex.set_leverage(SYM, 10)
    await ex.place_order(intent(Side.SELL))
    (pos,) = await ex.get_positions()
    assert pos.liquidation_price == D("54800.0")


async def test_crash_candle_liquidates_long_at_liquidation_price() -> None:
    clock = ManualClock(start=1_700_000_000)
    ex = make(clock=clock)
    await ex.set_leverage(SYM, 10)
    await ex.place_order(intent(Side.BUY, cid="a"))
    await ex.place_order(intent(Side.SELL, "0.1", OrderType.LIMIT, price="60000", cid="tp"))
    wallet = ex.wallet_balance()
    assert ex.on_candle(candle(50000, 50100, 45300, 45500)) == []
    clock.advance(60)
    (fill,) = ex.on_candle(candle(45500, 45600, 44000, 44500))
    assert fill.trade_id.startswith("liq-")
    assert fill.client_order_id == "liquidation-BTCUSDT-1700000060000"
    assert fill.price == D("45200.0")
    assert fill.side is Side.SELL
    assert ex.wallet_balance() == wallet - D("500")
    assert await ex.get_positions() == []
    assert await ex.get_open_orders() == []
    liq = await ex.get_order(SYM, fill.client_order_id)
    assert liq is not None
    assert liq.status is OrderStatus.FILLED


async def test_spike_candle_liquidates_short() -> None:
    ex = make()
    await ex.set_leverage(SYM, 20)
    await ex.place_order(intent(Side.SELL))
    (fill,) = ex.on_candle(candle(50000, 53000, 49900, 52000))
    assert fill.side is Side.BUY
    assert fill.price == D("52300.0")


async def test_funding_longs_pay_positive_rate_shorts_receive() -> None:
    ex = make()
    await ex.place_order(intent(Side.BUY))
    wallet = ex.wallet_balance()
    assert ex.apply_funding(SYM, D("0.0001")) == D("0.5")
    assert ex.wallet_balance() == wallet - D("0.5")
    await ex.place_order(intent(Side.SELL, "0.3", cid="flip"))
    wallet = ex.wallet_balance()
    ex.apply_funding(SYM, D("0.0001"))
    assert ex.wallet_balance() == wallet + D("1.0")
    assert ex.funding_paid() == D("-0.5")


async def test_funding_without_position_is_zero() -> None:
    assert make().apply_funding(SYM, D("0.01")) == 0


async def test_dead_man_switch_cancels_orders_after_deadline() -> None:
    clock = ManualClock()
    ex = make(clock=clock)
    await ex.place_order(intent(Side.BUY, order_type=OrderType.LIMIT, price="40000"))
    await ex.set_dead_man_switch(60)
    clock.advance(59)
    ex.on_candle(flat(50000))
    assert len(await ex.get_open_orders()) == 1
    await ex.set_dead_man_switch(60)  # refresh
    clock.advance(59)
    assert len(await ex.get_open_orders()) == 1
    clock.advance(2)
    ex.on_candle(flat(50000))
    assert await ex.get_open_orders() == []
    order = await ex.get_order(SYM, "c1")
    assert order is not None
    assert order.status is OrderStatus.CANCELED
    assert ex.available_balance() == ex.wallet_balance()


async def test_dead_man_switch_zero_disables() -> None:
    clock = ManualClock()
    ex = make(clock=clock)
    await ex.place_order(intent(Side.BUY, order_type=OrderType.LIMIT, price="40000"))
    await ex.set_dead_man_switch(10)
    await ex.set_dead_man_switch(0)
    clock.advance(3600)
    assert len(await ex.get_open_orders()) == 1

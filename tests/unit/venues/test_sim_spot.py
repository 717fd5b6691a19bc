"""SimSpotExchange: matching on candles, fees, slippage and balance locking."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kinetic.clock import ManualClock
from kinetic.domain import Candle, MarketType, OrderIntent, OrderStatus, OrderType, Side
from kinetic.venues.base.errors import InsufficientFunds, OrderRejected, UnknownSymbol
from kinetic.venues.sim import SimSpotExchange, default_instruments

D = Decimal
SYM = "BTCUSDT"


def candle(o: float, h: float, lo: float, c: float, ts: int = 0, symbol: str = SYM) -> Candle:
    return Candle(symbol, ts, ts + 59_999, o, h, lo, c, 10.0)


def flat(price: float, ts: int = 0) -> Candle:
    return candle(price, price, price, price, ts)


def intent(
    side: Side,
    order_type: OrderType = OrderType.MARKET,
    qty: str = "0.1",
    *,
    price: str | None = None,
    stop: str | None = None,
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
    )


def make(
    usdt: str = "100000", slippage_bps: str = "0", clock: ManualClock | None = None
) -> SimSpotExchange:
    return SimSpotExchange(
        default_instruments(MarketType.SPOT, [SYM, "ETHUSDT"]),
        clock or ManualClock(),
        {"USDT": D(usdt)},
        taker_fee=D("0.001"),
        maker_fee=D("0.0005"),
        slippage_bps=D(slippage_bps),
    )


async def test_market_buy_when_slippage_then_pays_more_and_taker_fee() -> None:
    ex = make(slippage_bps="10")
    ex.on_candle(flat(50000))
    order = await ex.place_order(intent(Side.BUY))
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == D("50050.00")
    (fill,) = await ex.get_fills(SYM)
    assert fill.fee == D("5.005")
    assert fill.fee_asset == "USDT"
    assert not fill.is_maker
    bal = await ex.get_balances()
    assert bal["USDT"].free == D("100000") - D("5005") - D("5.005")
    assert bal["BTC"].free == D("0.1")


async def test_market_sell_when_slippage_then_gets_less() -> None:
    ex = make(slippage_bps="10")
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY))
    order = await ex.place_order(intent(Side.SELL, cid="c2"))
    assert order.avg_price == D("49950.00")
    assert (await ex.get_balances())["BTC"].free == 0


async def test_market_order_before_any_price_rejected() -> None:
    with pytest.raises(OrderRejected):
        await make().place_order(intent(Side.BUY))


async def test_limit_buy_locks_quote_and_fills_as_maker_when_low_touches() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, OrderType.LIMIT, price="49000"))
    bal = await ex.get_balances()
    assert bal["USDT"].locked == D("4900") * D("1.0005")
    assert ex.on_candle(candle(50000, 50100, 49100, 49500)) == []
    (fill,) = ex.on_candle(candle(49500, 49600, 48000, 48500))
    assert fill.price == D("49000")
    assert fill.is_maker
    assert fill.fee == D("2.45")
    bal = await ex.get_balances()
    assert bal["USDT"].locked == 0
    assert bal["USDT"].free == D("100000") - D("4900") - D("2.45")
    assert bal["BTC"].free == D("0.1")


async def test_limit_sell_locks_base_and_fills_when_high_touches() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, cid="buy"))
    await ex.place_order(intent(Side.SELL, OrderType.LIMIT, price="51000", cid="tp"))
    bal = await ex.get_balances()
    assert bal["BTC"].free == 0
    assert bal["BTC"].locked == D("0.1")
    (fill,) = ex.on_candle(candle(50000, 51000, 49900, 50500))
    assert fill.price == D("51000")
    assert fill.side is Side.SELL
    assert (await ex.get_balances())["BTC"].total == 0


async def test_cancel_unlocks_reserved_quote() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, OrderType.LIMIT, price="49000"))
    await ex.cancel_order(SYM, "c1")
    bal = await ex.get_balances()
    assert bal["USDT"].free == D("100000")
    assert bal["USDT"].locked == 0


async def test_limit_price_rounded_to_tick() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    order = await ex.place_order(intent(Side.BUY, OrderType.LIMIT, price="49000.004"))
    assert order.price == D("49000.00")


async def test_stop_buy_triggers_at_stop_with_slippage() -> None:
    ex = make(slippage_bps="10")
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, OrderType.STOP_MARKET, stop="51000"))
    assert ex.on_candle(candle(50000, 50900, 49900, 50500)) == []
    (fill,) = ex.on_candle(candle(50500, 51200, 50400, 51100))
    assert fill.price == D("51051.00")
    assert not fill.is_maker
    assert fill.fee == D("0.1") * D("51051") * D("0.001")


async def test_stop_sell_when_open_gaps_through_then_fills_at_open() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, cid="buy"))
    await ex.place_order(intent(Side.SELL, OrderType.STOP_MARKET, stop="48000", cid="sl"))
    (fill,) = ex.on_candle(candle(46000, 46500, 45000, 45500))
    assert fill.price == D("46000")
    assert fill.client_order_id == "sl"
    order = await ex.get_order(SYM, "sl")
    assert order is not None
    assert order.status is OrderStatus.FILLED


async def test_market_buy_without_enough_quote_raises_insufficient_funds() -> None:
    ex = make(usdt="1000")
    ex.on_candle(flat(50000))
    with pytest.raises(InsufficientFunds):
        await ex.place_order(intent(Side.BUY))


async def test_limit_buy_without_enough_quote_raises_insufficient_funds() -> None:
    ex = make(usdt="1000")
    ex.on_candle(flat(50000))
    with pytest.raises(InsufficientFunds):
        await ex.place_order(intent(Side.BUY, OrderType.LIMIT, price="49000"))


async def test_sell_without_base_raises_insufficient_funds() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    with pytest.raises(InsufficientFunds):
        await ex.place_order(intent(Side.SELL))


async def test_equity_is_quote_plus_base_at_last_price() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY))
    ex.on_candle(flat(60000))
    assert ex.equity() == D("100000") - D("5000") - D("5") + D("6000")


async def test_candle_for_unknown_symbol_raises() -> None:
    with pytest.raises(UnknownSymbol):
        make().on_candle(candle(1, 1, 1, 1, symbol="DOGEUSDT"))


async def test_get_fills_since_filters_by_clock_time() -> None:
    clock = ManualClock(start=1_700_000_000)
    ex = make(clock=clock)
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, cid="a"))
    clock.advance(60)
    await ex.place_order(intent(Side.BUY, cid="b"))
    fills = await ex.get_fills(SYM, since_ms=1_700_000_030_000)
    assert [f.client_order_id for f in fills] == ["b"]
    assert fills[0].ts_ms == 1_700_000_060_000


async def test_klines_and_ticker_reflect_fed_candles() -> None:
    ex = make()
    for i in range(3):
        ex.on_candle(flat(50000 + i, ts=i * 60_000))
    klines = await ex.get_klines(SYM, "1m", limit=2)
    assert [k.close for k in klines] == [50001, 50002]
    assert await ex.get_ticker_price(SYM) == D("50002")
    assert len(await ex.get_klines(SYM, "1m", start_ms=60_000)) == 2


def test_default_instruments_use_binance_filters() -> None:
    spot = default_instruments(MarketType.SPOT, ["BTCUSDT", "ETHUSDT"])
    assert spot["BTCUSDT"].tick_size == D("0.01")
    assert spot["BTCUSDT"].step_size == D("0.00001")
    assert spot["BTCUSDT"].min_notional == D("5")
    assert spot["ETHUSDT"].step_size == D("0.0001")
    fut = default_instruments(MarketType.FUTURES, ["BTCUSDT", "ETHUSDT"])
    assert fut["BTCUSDT"].tick_size == D("0.10")
    assert fut["BTCUSDT"].min_notional == D("100")
    assert fut["ETHUSDT"].min_notional == D("20")
    assert fut["ETHUSDT"].step_size == D("0.001")
    assert set(default_instruments(MarketType.FUTURES)) == {
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "BNBUSDT",
        "XRPUSDT",
    }


def test_default_instruments_unknown_symbol_lists_known() -> None:
    with pytest.raises(UnknownSymbol, match="BTCUSDT"):
        default_instruments(MarketType.SPOT, ["DOGEUSDT"])


async def test_has_open_orders_agrees_with_get_open_orders() -> None:
    ex = make()
    ex.on_candle(flat(50000))
    assert not ex.has_open_orders()
    await ex.place_order(intent(Side.BUY, cid="filled"))  # a market order never rests
    assert not ex.has_open_orders()
    await ex.place_order(intent(Side.BUY, OrderType.LIMIT, price="49000", cid="rests"))
    assert ex.has_open_orders()
    assert [o.client_order_id for o in await ex.get_open_orders()] == ["rests"]
    await ex.cancel_order(SYM, "rests")
    assert not ex.has_open_orders()
    assert await ex.get_open_orders() == []


async def test_limit_and_market_buys_lock_and_need_their_own_fee_rates() -> None:
    # ``1 + rate`` is remembered for the last rate: a maker and a taker requirement
    # alternating each use their own (maker 0.05 %, taker 0.1 %)
    ex = make(usdt="1000")
    ex.on_candle(flat(100.0))
    await ex.place_order(intent(Side.BUY, OrderType.LIMIT, "1", price="90", cid="l1"))
    locked = (await ex.get_balances())["USDT"].locked
    assert locked == D("1") * D("90.00") * D("1.0005")
    await ex.place_order(intent(Side.BUY, qty="2", cid="m1"))  # taker: 200.2 spent
    await ex.place_order(intent(Side.BUY, OrderType.LIMIT, "1", price="80", cid="l2"))
    usdt = (await ex.get_balances())["USDT"]
    assert usdt.locked == locked + D("1") * D("80.00") * D("1.0005")
    assert usdt.free == D("1000") - locked - D("200.200") - D("80.0400")
    assert usdt.free == D("629.715")
    with pytest.raises(InsufficientFunds):  # 6.292 x 100 x 1.001 = 629.8292 > free
        await ex.place_order(intent(Side.BUY, qty="6.292", cid="m2"))  # (x 1.0005: fits)
    await ex.place_order(intent(Side.BUY, qty="6.29", cid="m3"))  # 629.629 <= free: fits

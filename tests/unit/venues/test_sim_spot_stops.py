"""SimSpotExchange stop-limit orders (Binance STOP_LOSS_LIMIT, Kraken stop-loss-limit).

The stop triggers when a candle's range reaches it; the triggered limit then trades at
the slipped trigger price (the open when the bar gapped through the stop) but never
beyond its limit. A bar that gapped through the limit too leaves the order resting as
a plain limit that can fill from the next bar on.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kinetic.domain import OrderStatus, OrderType, Side
from kinetic.venues.base.errors import InsufficientFunds, OrderRejected
from tests.unit.venues.test_sim_spot import SYM, candle, flat, intent, make

D = Decimal


async def _long_with_stop(ex_slippage: str = "0", limit: str = "47500") -> object:
    ex = make(slippage_bps=ex_slippage)
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, cid="buy"))
    await ex.place_order(
        intent(Side.SELL, OrderType.STOP_LIMIT, stop="48000", price=limit, cid="sl")
    )
    return ex


async def test_resting_sell_stop_limit_locks_the_base_so_a_second_sell_is_refused() -> None:
    ex = await _long_with_stop()
    btc = (await ex.get_balances())["BTC"]
    assert (btc.free, btc.locked) == (D(0), D("0.1"))
    with pytest.raises(InsufficientFunds):
        await ex.place_order(intent(Side.SELL, cid="close"))


async def test_untouched_stop_limit_does_not_fill() -> None:
    ex = await _long_with_stop()
    assert ex.on_candle(candle(50000, 50500, 48000.01, 49000)) == []
    order = await ex.get_order(SYM, "sl")
    assert order is not None
    assert order.status is OrderStatus.NEW


async def test_stop_limit_fills_at_the_stop_when_the_low_reaches_it() -> None:
    ex = await _long_with_stop()
    (fill,) = ex.on_candle(candle(49000, 49500, 47000, 47200))
    assert (fill.client_order_id, fill.price, fill.is_maker) == ("sl", D("48000"), False)
    assert (await ex.get_balances())["BTC"].total == 0


async def test_slippage_never_takes_the_fill_beyond_the_limit() -> None:
    # 1000 bps below 48000 would be 43200; the limit 47500 is the worst price
    ex = await _long_with_stop(ex_slippage="1000")
    (fill,) = ex.on_candle(candle(49000, 49500, 47000, 47200))
    assert fill.price == D("47500")


async def test_gap_through_the_stop_but_not_the_limit_fills_at_the_open() -> None:
    ex = await _long_with_stop()
    (fill,) = ex.on_candle(candle(47800, 47900, 46000, 46500))
    assert fill.price == D("47800")


async def test_gap_through_the_limit_rests_then_fills_at_the_limit_on_a_later_bar() -> None:
    ex = await _long_with_stop()
    # opens below the limit: no fill on this bar, even though its high reaches the limit
    assert ex.on_candle(candle(47000, 47600, 46000, 46500)) == []
    order = await ex.get_order(SYM, "sl")
    assert order is not None
    assert order.status is OrderStatus.NEW
    assert (await ex.get_balances())["BTC"].locked == D("0.1")
    # a bar back above the stop does not re-trigger anything: it is a limit now
    assert ex.on_candle(candle(46500, 47400, 46000, 47300)) == []
    (fill,) = ex.on_candle(candle(47300, 47700, 47200, 47650))
    assert (fill.price, fill.is_maker) == (D("47500"), True)


async def test_cancelling_a_triggered_stop_limit_frees_the_base() -> None:
    ex = await _long_with_stop()
    ex.on_candle(candle(47000, 47100, 46000, 46500))
    await ex.cancel_order(SYM, "sl")
    assert (await ex.get_balances())["BTC"].free == D("0.1")
    assert ex.on_candle(candle(46500, 48000, 46400, 47900)) == []


async def test_buy_stop_limit_triggers_above_and_caps_at_its_limit() -> None:
    ex = make(slippage_bps="1000")
    ex.on_candle(flat(50000))
    await ex.place_order(intent(Side.BUY, OrderType.STOP_LIMIT, stop="51000", price="51500"))
    usdt = (await ex.get_balances())["USDT"]
    assert usdt.locked == D("0.1") * D("51500") * (1 + D("0.001"))  # a taker, usually
    (fill,) = ex.on_candle(candle(50500, 51200, 50400, 51100))
    assert fill.price == D("51500")


@pytest.mark.parametrize("missing", ["price", "stop"])
async def test_stop_limit_without_both_prices_is_rejected(missing: str) -> None:
    ex = make()
    ex.on_candle(flat(50000))
    prices = {"price": "47500", "stop": "48000"}
    del prices[missing]
    with pytest.raises(OrderRejected):
        await ex.place_order(intent(Side.SELL, OrderType.STOP_LIMIT, **prices))

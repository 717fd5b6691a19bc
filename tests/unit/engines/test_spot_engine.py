"""SpotEngine on a SimSpotExchange: sizing, stop-loss, take-profit, trend break, refusals."""

from __future__ import annotations

from decimal import Decimal

from kinetic.domain import Direction, MarketType, OrderStatus, OrderType, PositionSide
from kinetic.strategy.base import flat_signal
from kinetic.venues.base import round_quantity
from kinetic.venues.sim import default_instruments
from tests.unit.engines.kit import MINUTE_MS, World, spot_world

D = Decimal
BTC = "BTCUSDT"
ETH = "ETHUSDT"


async def _enter(w: World, price: float = 100.0, symbol: str = BTC) -> None:
    c = w.candle(symbol, price, price, price, price)
    w.strategy.at(symbol, c.open_time_ms, Direction.LONG, 80, reason="uptrend")
    await w.step(c)


async def test_entry_is_sized_at_spot_position_size_pct_of_allocation() -> None:
    w = spot_world("4000", spot_position_size_pct=25.0)
    await _enter(w, 250.5)
    pos = w.positions.positions[BTC]
    inst = default_instruments(MarketType.SPOT, [BTC])[BTC]
    assert pos.quantity == round_quantity(D("1000") / D("250.5"), inst) == D("3.99201")
    assert pos.side is PositionSide.LONG
    assert pos.entry_price == D("250.5")
    assert pos.stop_price == D("250.5") * (1 - D("3.0") / 100)
    assert pos.take_profit == D("250.5") * (1 + D("6.0") / 100)
    balances = await w.venue.get_balances()
    assert balances["BTC"].locked == D("3.99201")  # under the exchange-side stop
    assert w.positions.cash == balances["USDT"].free  # engine books agree with the venue
    assert w.recorder.position_rows[("spot", BTC)].quantity == D("3.99201")


async def test_stop_loss_exit_when_candle_low_crosses_stop() -> None:
    w = spot_world(spot_exchange_stop_enabled=False)  # the candle check alone
    await _enter(w, 100.0)  # stop 97, take-profit 106
    await w.step(w.candle(BTC, 99.0, 100.0, 97.5, 98.0))
    assert w.positions.has_position(BTC)  # low above the stop: still open
    await w.step(w.candle(BTC, 98.0, 98.5, 96.9, 97.2))
    assert not w.positions.has_position(BTC)
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"
    assert trade.exit_price == D("97.2")  # market exit at the candle close
    assert trade.pnl < 0
    assert (await w.venue.get_balances())["BTC"].total == 0
    assert ("spot", BTC) not in w.recorder.position_rows


async def test_take_profit_exit_when_candle_high_reaches_target() -> None:
    w = spot_world()
    await _enter(w, 100.0)
    await w.step(w.candle(BTC, 101.0, 106.5, 100.5, 105.0))
    [trade] = w.recorder.trades
    assert trade.exit_reason == "take_profit"
    assert trade.pnl > 0
    assert w.positions.cash == (await w.venue.get_balances())["USDT"].free


async def test_short_signal_while_long_closes_position_as_trend_break() -> None:
    w = spot_world()
    await _enter(w, 100.0)
    c = w.candle(BTC, 100.0, 101.0, 99.0, 100.5)
    w.strategy.at(BTC, c.open_time_ms, Direction.SHORT, 70, reason="trend broken: ema cross down")
    await w.step(c)
    [trade] = w.recorder.trades
    assert trade.exit_reason == "trend broken: ema cross down"
    assert not w.positions.positions


async def test_no_entry_when_global_breaker_refuses() -> None:
    w = spot_world()
    w.can_trade[0] = False
    await _enter(w)
    assert not w.positions.positions
    assert w.recorder.orders == {}
    assert await w.venue.get_fills(BTC) == []


async def test_no_entry_beyond_max_positions() -> None:
    w = spot_world("10000", symbols=(BTC, ETH), spot_max_positions=1)
    c1 = w.candle(BTC, 100.0, 100.0, 100.0, 100.0)
    c2 = w.candle(ETH, 50.0, 50.0, 50.0, 50.0, open_ms=c1.open_time_ms)
    w.strategy.at(BTC, c1.open_time_ms, Direction.LONG, 80)
    w.strategy.at(ETH, c2.open_time_ms, Direction.LONG, 80)
    w.publish(c1)
    w.publish(c2)
    await w.engine.scan_once()
    assert list(w.positions.positions) == [BTC]
    assert await w.venue.get_fills(ETH) == []


async def test_no_entry_below_min_confidence() -> None:
    w = spot_world(spot_min_confidence=60)
    c = w.candle(BTC, 100.0, 100.0, 100.0, 100.0)
    w.strategy.at(BTC, c.open_time_ms, Direction.LONG, 59)
    await w.step(c)
    assert not w.positions.positions


async def test_no_entry_on_stale_data() -> None:
    w = spot_world(stale_tolerance_seconds=120)
    c = w.candle(BTC, 100.0, 100.0, 100.0, 100.0)
    w.strategy.at(BTC, c.open_time_ms, Direction.LONG, 80)
    # the next candle was due at close + 1 min; the clock is 121 s past that
    w.clock.set((c.close_time_ms + MINUTE_MS + 121_000) / 1000)
    await w.step(c, clock_to_close=False)
    assert not w.positions.positions
    assert w.recorder.orders == {}


async def test_entry_allowed_on_data_within_tolerance() -> None:
    w = spot_world(stale_tolerance_seconds=120)
    c = w.candle(BTC, 100.0, 100.0, 100.0, 100.0)
    w.strategy.at(BTC, c.open_time_ms, Direction.LONG, 80)
    w.clock.set((c.close_time_ms + MINUTE_MS + 119_000) / 1000)
    await w.step(c, clock_to_close=False)
    assert w.positions.has_position(BTC)


async def test_each_candle_is_fed_to_strategy_once_and_orders_are_journaled() -> None:
    w = spot_world()
    await _enter(w)
    for price in (100.5, 101.0):
        await w.step(w.candle(BTC, price, price, price, price))
    await w.engine.scan_once()
    assert [c.close for c in w.strategy.seen] == [100.0, 100.5, 101.0]
    (engine, order), (_, stop) = w.recorder.orders.values()
    assert engine == "spot"
    assert order.status is OrderStatus.FILLED
    assert (stop.order_type, stop.status) == (OrderType.STOP_LIMIT, OrderStatus.NEW)


async def test_flat_signals_change_nothing_flat_or_held() -> None:
    # why the scan may leave FLAT out of on_signal (SpotEngine.ignores_flat): it acts on
    # LONG when flat and SHORT when held, on nothing else
    w = spot_world(spot_exchange_stop_enabled=False)
    engine = w.engine
    assert engine.ignores_flat
    c = w.candle(BTC, 100.0, 100.0, 100.0, 100.0)
    w.publish(c)
    flat = flat_signal(c, "flat")
    await engine.on_signal(flat, c)
    assert not w.positions.positions
    assert not w.recorder.orders
    await _enter(w, 100.0)
    orders = dict(w.recorder.orders)
    c = w.candle(BTC, 90.0, 110.0, 90.0, 100.0)  # beyond both levels: on_signal ignores them
    w.publish(c)
    await engine.on_signal(flat_signal(c, "flat"), c)
    assert w.recorder.orders == orders
    assert w.positions.has_position(BTC)
    await engine.scan_once()
    assert engine._last_signal[BTC].direction is Direction.FLAT  # still the last one seen


async def test_a_clear_candle_is_decided_in_floats_and_a_touch_exactly() -> None:
    w = spot_world(spot_exchange_stop_enabled=False)
    await _enter(w, 100.0)  # stop 97, take-profit 106 (Decimals)
    pos = w.positions.positions[BTC]
    assert pos.stop_price == D("97.000")
    assert pos.take_profit == D("106.000")
    await w.step(w.candle(BTC, 99.0, 105.99, 97.01, 99.0))  # clear of both
    assert w.positions.has_position(BTC)
    await w.step(w.candle(BTC, 99.0, 99.5, 97.0, 99.0))  # low == stop: a touch
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"


async def test_a_journal_failure_is_followed_by_the_monitor_with_no_fills_to_read() -> None:
    # the monitor's sync runs for a held symbol even when the venue has no new fill:
    # it also follows the OMS's journal state (escalate on a failure, note a recovery)
    w = spot_world(spot_exchange_stop_enabled=False)
    await _enter(w, 100.0)
    engine = w.engine
    engine.d.oms.journal_error = "order row X: OSError('disk full')"  # a failed write
    await w.step(w.candle(BTC, 100.0, 100.0, 100.0, 100.0))
    assert engine._journal_down
    engine.d.oms.journal_error = None  # a later write succeeded
    await w.step(w.candle(BTC, 100.0, 100.0, 100.0, 100.0))
    assert not engine._journal_down
    assert [e[0] for e in w.recorder.events][-1] == "journal_recovered"

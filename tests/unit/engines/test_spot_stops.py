"""SpotEngine exchange-side stops on a SimSpotExchange.

A spot entry places a sell stop for the whole position (a stop-limit as on Binance, a
stop-market as on Kraken); the venue's stop closes the position once; a stop cancelled on
the venue is placed again; the candle check still closes when the venue has no stop;
a close cancels the stop first and puts it back when the sell fails; a restart adopts
the resting stop instead of placing a second one.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from kinetic.domain import Direction, OrderIntent, OrderStatus, OrderType, Side
from kinetic.engines.spot import STOP_RETRY_S, SpotEngine
from kinetic.execution.oms import OrderManager
from kinetic.portfolio.positions import PositionManager
from kinetic.venues.base.errors import OrderRejected, TransientError
from kinetic.venues.sim import SimSpotExchange
from tests.unit.engines.kit import World, spot_world

D = Decimal
BTC = "BTCUSDT"


class Refusing(SimSpotExchange):
    """A SimSpotExchange that refuses what a test switches on (market sells, stops, cancels)."""

    refuse_sells = False
    refuse_stops = False
    fail_cancels = False

    async def place_order(self, intent: OrderIntent) -> Any:
        if self.refuse_sells and intent.side is Side.SELL and intent.order_type is OrderType.MARKET:
            raise OrderRejected("market sells refused by the test")
        if self.refuse_stops and intent.order_type is not OrderType.MARKET:
            raise OrderRejected("stops refused by the test")
        return await super().place_order(intent)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Any:
        if self.fail_cancels:
            raise TransientError("cancel timed out (test)")
        return await super().cancel_order(symbol, client_order_id)


def world(**overrides: Any) -> World:
    w = spot_world(**overrides)
    w.venue.__class__ = Refusing  # same state, switchable refusals
    return w


async def enter(w: World, price: float = 100.0) -> None:
    c = w.candle(BTC, price, price, price, price)
    w.strategy.at(BTC, c.open_time_ms, Direction.LONG, 80, reason="uptrend")
    await w.step(c)


async def resting(w: World) -> list[Any]:
    return await w.venue.get_open_orders(BTC)


def journaled(w: World, order_type: OrderType | None = None, side: Side | None = None) -> list[Any]:
    """Journaled orders (by default every stop: any type but MARKET), of one side or both."""
    return [
        o
        for _, o in w.recorder.orders.values()
        if (o.order_type is order_type if order_type else o.order_type is not OrderType.MARKET)
        and (side is None or o.side is side)
    ]


async def sells(w: World) -> list[Any]:
    return [f for f in await w.venue.get_fills(BTC) if f.side is Side.SELL]


# ---------------------------------------------------------------- placing


async def test_entry_places_a_stop_limit_for_the_whole_position() -> None:
    w = world()
    await enter(w)  # stop 97, take-profit 106
    pos = w.positions.positions[BTC]
    [stop] = await resting(w)
    assert (stop.side, stop.order_type) == (Side.SELL, OrderType.STOP_LIMIT)
    assert stop.quantity == pos.quantity
    assert stop.stop_price == D("97.00")
    assert stop.price == D("96.51")  # 0.5 % below the trigger, rounded down to the tick
    assert (await w.venue.get_balances())["BTC"].locked == pos.quantity


async def test_limit_offset_follows_config() -> None:
    w = world(spot_stop_limit_offset_pct=2.0)
    await enter(w)
    [stop] = await resting(w)
    assert stop.price == D("95.06")


async def test_kraken_spot_gets_a_market_stop() -> None:
    w = world(spot_venue="kraken")
    await enter(w)
    [stop] = await resting(w)
    assert (stop.order_type, stop.stop_price, stop.price) == (
        OrderType.STOP_MARKET,
        D("97.00"),
        None,
    )


async def test_no_exchange_stop_when_switched_off() -> None:
    w = world(spot_exchange_stop_enabled=False)
    await enter(w)
    assert w.positions.has_position(BTC)
    assert await resting(w) == []


# ---------------------------------------------------------------- the venue's stop fills


async def test_venue_stop_closes_the_position_once_at_the_stop() -> None:
    w = world()
    await enter(w)
    qty = w.positions.positions[BTC].quantity
    # the low crosses the stop: the venue's stop fills; the candle check sees it too
    await w.step(w.candle(BTC, 99.0, 99.5, 95.0, 95.5))
    assert not w.positions.positions
    [sell] = await sells(w)
    assert (sell.quantity, sell.price) == (qty, D("97.00"))  # at the stop, not at 95.5
    [trade] = w.recorder.trades
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", D("97.00"))
    assert (await w.venue.get_balances())["BTC"].total == 0
    assert await resting(w) == []
    for price in (95.0, 94.0):  # later candles sell nothing more
        await w.step(w.candle(BTC, price, price, price, price))
    assert len(await sells(w)) == 1
    assert len(w.recorder.trades) == 1


async def test_kraken_style_market_stop_fills_at_the_open_of_a_gap() -> None:
    w = world(spot_venue="kraken")
    await enter(w)
    await w.step(w.candle(BTC, 90.0, 91.0, 89.0, 90.5))
    [trade] = w.recorder.trades
    assert trade.exit_price == D("90.0")
    assert len(await sells(w)) == 1


async def test_gap_through_the_limit_falls_back_to_the_candle_check() -> None:
    w = world()
    await enter(w)
    # opens below the limit (96.51): the triggered stop-limit rests unfilled; the candle
    # check cancels it and sells at market, once
    await w.step(w.candle(BTC, 90.0, 91.0, 89.0, 90.5))
    assert not w.positions.positions
    [sell] = await sells(w)
    assert sell.price == D("90.5")
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"
    assert await resting(w) == []


# ---------------------------------------------------------------- a stop that goes missing


async def test_stop_cancelled_on_the_venue_is_placed_again() -> None:
    w = world()
    await enter(w)
    [old] = await resting(w)
    await w.venue.cancel_order(BTC, old.client_order_id)  # by hand, on the venue
    await w.step(w.candle(BTC, 100.0, 100.5, 99.5, 100.0))
    [new] = await resting(w)
    assert new.client_order_id != old.client_order_id
    assert (new.quantity, new.stop_price) == (old.quantity, old.stop_price)
    journaled = {o.client_order_id: o.status for _, o in w.recorder.orders.values()}
    assert journaled[old.client_order_id] is OrderStatus.CANCELED
    assert [e[0] for e in w.recorder.events] == ["stop_missing"]
    # and the new stop protects: it closes the position on the next drop
    await w.step(w.candle(BTC, 99.0, 99.0, 96.0, 96.5))
    [trade] = w.recorder.trades
    assert trade.exit_price == D("97.00")


async def test_candle_check_closes_when_the_venue_stop_is_missing() -> None:
    w = world()
    await enter(w)
    [old] = await resting(w)
    await w.venue.cancel_order(BTC, old.client_order_id)
    w.venue.refuse_stops = True  # and no new one can be placed
    await w.step(w.candle(BTC, 99.0, 99.5, 96.0, 96.5))
    assert not w.positions.positions
    [sell] = await sells(w)
    assert sell.price == D("96.5")  # the candle check's market sell at the close
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"


async def test_refused_stop_is_an_unprotected_event_and_retried_after_a_pause() -> None:
    w = world()
    w.venue.refuse_stops = True
    await enter(w)
    assert await resting(w) == []
    assert [e[0] for e in w.recorder.events] == ["unprotected"]
    tried = len(journaled(w))
    w.venue.refuse_stops = False
    w.clock.set(w.clock.time() + STOP_RETRY_S - 1)
    await w.engine.monitor_once()  # within the pause: no retry
    assert len(journaled(w)) == tried
    w.clock.set(w.clock.time() + 1)
    await w.engine.monitor_once()
    [stop] = await resting(w)
    assert stop.order_type is OrderType.STOP_LIMIT
    assert [e[0] for e in w.recorder.events] == ["unprotected"]  # one event, not one a step


# ---------------------------------------------------------------- closing


async def test_take_profit_cancels_the_stop_then_sells() -> None:
    w = world()
    await enter(w)
    [stop] = await resting(w)
    await w.step(w.candle(BTC, 101.0, 106.5, 100.5, 105.0))
    [trade] = w.recorder.trades
    assert (trade.exit_reason, trade.exit_price) == ("take_profit", D("105.0"))
    assert (await w.venue.get_order(BTC, stop.client_order_id)).status is OrderStatus.CANCELED
    assert await resting(w) == []
    assert (await w.venue.get_balances())["BTC"].total == 0


async def test_refused_close_places_the_stop_again_at_once() -> None:
    w = world()
    await enter(w)
    [old] = await resting(w)
    w.venue.refuse_sells = True
    await w.engine.close_position(BTC, "take_profit")  # outside a monitor step
    assert w.positions.has_position(BTC)
    [new] = await resting(w)
    assert new.client_order_id != old.client_order_id
    assert new.quantity == w.positions.positions[BTC].quantity
    assert await sells(w) == []


async def test_refused_close_of_a_position_without_its_stop_places_the_stop_at_once() -> None:
    # the stop was refused at the entry (retried after a pause); a close that fails then
    # places it at once: the close without a stop to lift skips the base close's repeated
    # tests, not the stop's restoration
    w = world()
    w.venue.refuse_stops = True
    await enter(w)
    assert await resting(w) == []
    w.venue.refuse_stops, w.venue.refuse_sells = False, True
    await w.engine.close_position(BTC, "take_profit")
    assert w.positions.has_position(BTC)
    [stop] = await resting(w)
    assert stop.order_type is OrderType.STOP_LIMIT
    assert stop.quantity == w.positions.positions[BTC].quantity
    assert await sells(w) == []


async def test_close_waits_when_the_stop_cancel_is_not_confirmed() -> None:
    w = world()
    await enter(w)
    [stop] = await resting(w)
    w.venue.fail_cancels = True
    await w.step(w.candle(BTC, 101.0, 106.5, 100.5, 105.0))
    assert w.positions.has_position(BTC)
    assert [o.client_order_id for o in await resting(w)] == [stop.client_order_id]
    # no sell while the stop may still hold the coins
    assert journaled(w, OrderType.MARKET, Side.SELL) == []


async def test_trend_break_close_leaves_no_stop_behind() -> None:
    w = world()
    await enter(w)
    c = w.candle(BTC, 100.0, 101.0, 99.0, 100.5)
    w.strategy.at(BTC, c.open_time_ms, Direction.SHORT, 70, reason="trend broken")
    await w.step(c)
    assert not w.positions.positions
    assert await resting(w) == []
    assert len(await sells(w)) == 1


# ---------------------------------------------------------------- restart


def restarted(w: World) -> SpotEngine:
    """A new engine on the same venue and journal, as after a process restart."""
    d = w.engine.d
    deps = dataclasses.replace(
        d,
        oms=OrderManager("spot", w.venue, w.recorder, w.clock),
        positions=PositionManager("spot", d.positions.market, d.positions.starting_cash),
    )
    return SpotEngine(deps)


async def test_restart_adopts_the_resting_stop() -> None:
    w = world()
    await enter(w)
    [stop] = await resting(w)
    journaled = len(w.recorder.orders)
    engine = restarted(w)
    await engine.startup()
    assert engine.d.positions.has_position(BTC)
    assert [o.client_order_id for o in await resting(w)] == [stop.client_order_id]
    assert len(w.recorder.orders) == journaled  # nothing new sent
    # the adopted stop is the one the engine manages: a take-profit close cancels it
    w.engine = engine
    await w.step(w.candle(BTC, 101.0, 106.5, 100.5, 105.0))
    assert (await w.venue.get_order(BTC, stop.client_order_id)).status is OrderStatus.CANCELED
    assert len(await sells(w)) == 1


async def test_restart_places_a_stop_that_went_missing_while_down() -> None:
    w = world()
    await enter(w)
    [stop] = await resting(w)
    await w.venue.cancel_order(BTC, stop.client_order_id)  # e.g. a dead-man timer
    engine = restarted(w)
    await engine.startup()
    [new] = await resting(w)
    assert new.client_order_id != stop.client_order_id
    assert new.quantity == engine.d.positions.positions[BTC].quantity


async def test_no_stop_that_could_never_trigger() -> None:
    # --raw backtests put the stop at 1e-9 x entry: it rounds to 0, nothing would rest
    w = world(spot_stop_loss_pct=99.9999999)
    await enter(w)
    assert w.positions.has_position(BTC)
    assert await resting(w) == []
    assert w.recorder.events == []
    assert not w.venue.has_open_orders()  # the backtest may skip quiet bars


async def test_a_stop_that_could_not_rest_is_placed_once_its_level_can_trigger() -> None:
    # the engine remembers that this position's stop rounds to nothing (every step of a
    # --raw backtest asks again); a new level or size must be looked at afresh
    w = world(spot_stop_loss_pct=99.9999999)
    await enter(w)
    await w.step(w.candle(BTC, 100, 100, 100, 100))
    assert await resting(w) == []
    pos = w.positions.positions[BTC]
    pos.stop_price = D("95")  # e.g. moved by hand: now it can rest
    await w.step(w.candle(BTC, 100, 100, 100, 100))
    [stop] = await resting(w)
    assert stop.stop_price == D("95")
    assert stop.quantity == pos.quantity


async def test_a_one_tick_stop_rests_unless_its_limit_rounds_to_zero() -> None:
    # a stop of one tick (0.01) is no zero stop: a stop-market rests at it; a stop-limit's
    # limit 0.5 % below rounds down to 0.00, and that one could never fill
    for venue, rests in (("kraken", True), ("binance", False)):
        w = world(spot_venue=venue)
        await enter(w)
        for stop in await resting(w):
            await w.venue.cancel_order(BTC, stop.client_order_id)
        engine = w.engine
        assert isinstance(engine, SpotEngine)
        engine._stop_orders.clear()
        pos = w.positions.positions[BTC]
        pos.stop_price = D("0.019")  # rounds down to one tick
        await w.step(w.candle(BTC, 100, 100, 100, 100))
        found = await resting(w)
        assert [o.stop_price for o in found] == ([D("0.01")] if rests else [])

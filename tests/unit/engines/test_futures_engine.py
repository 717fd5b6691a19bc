"""FuturesEngine on a SimFuturesExchange: exchange-side stops, trailing, blacklist, leverage."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from kinetic.domain import Direction, Fill, OrderStatus, OrderType, PositionSide, Regime, Side
from kinetic.engines.futures import FuturesEngine
from kinetic.venues.sim import SimFuturesExchange
from tests.unit.engines.kit import MINUTE_MS, World, futures_world

D = Decimal
ETH = "ETHUSDT"
BTC = "BTCUSDT"
ATR = 1.2345  # x 2.0 = 2.469: the raw stop is off the 0.01 tick


async def _enter(
    w: World,
    direction: Direction = Direction.LONG,
    price: float = 2000.0,
    symbol: str = ETH,
    confidence: int = 80,
    regime: Regime | None = Regime.TRENDING,
    open_ms: int | None = None,
) -> None:
    c = w.candle(symbol, price, price, price, price, open_ms=open_ms)
    w.strategy.at(symbol, c.open_time_ms, direction, confidence, ATR, regime, "regime entry")
    await w.step(c)


async def _venue_stops(w: World, symbol: str = ETH) -> list:  # type: ignore[type-arg]
    orders = await w.venue.get_open_orders(symbol)
    return [o for o in orders if o.order_type is OrderType.STOP_MARKET]


def _engine(w: World) -> FuturesEngine:
    assert isinstance(w.engine, FuturesEngine)
    return w.engine


@pytest.mark.parametrize(
    ("direction", "side", "stop"),
    [
        (Direction.LONG, PositionSide.LONG, D("1997.53")),  # 1997.531 rounded down
        (Direction.SHORT, PositionSide.SHORT, D("2002.47")),
    ],  # 2002.469 rounded up
)
async def test_entry_places_reduce_only_stop_market_at_atr_stop_rounded_away_from_position(
    direction: Direction, side: PositionSide, stop: Decimal
) -> None:
    w = futures_world()
    await _enter(w, direction)
    pos = w.positions.positions[ETH]
    assert pos.side is side
    assert pos.stop_price == stop
    [order] = await _venue_stops(w)
    assert order.stop_price == stop
    assert order.reduce_only
    assert order.side is side.exit_side
    assert order.quantity == pos.quantity
    [venue_pos] = await w.venue.get_positions()
    assert (venue_pos.side, venue_pos.quantity) == (side, pos.quantity)


async def test_entry_size_scales_with_confidence_and_leverage() -> None:
    w = futures_world("6000")
    await _enter(w, confidence=80)  # 11 % of 6000 = 660 margin, leverage 2 + int(8 x 0.8) = 8
    pos = w.positions.positions[ETH]
    assert pos.leverage == 8
    assert pos.quantity == D("2.640")  # 660 x 8 / 2000


async def test_entry_is_capped_at_the_instruments_max_quantity() -> None:
    """A venue refuses an order above max_qty (found in the sandbox: XRPUSDT 28205 > 9000)."""
    w = futures_world("6000")
    inst = w.engine.d.instruments[ETH]
    w.engine.d.instruments[ETH] = replace(inst, max_qty=D("1.5"))
    await _enter(w, confidence=80)  # uncapped: 2.640 (see the test above)
    pos = w.positions.positions[ETH]
    assert pos.quantity == D("1.500")
    [stop] = await _venue_stops(w)
    assert stop.quantity == pos.quantity


@pytest.mark.parametrize(
    ("regime", "confidence", "overrides", "expected"),
    [
        (Regime.TRENDING, 100, {}, 10),
        (Regime.SIDEWAYS, 100, {}, 2),
        (Regime.TRANSITIONAL, 100, {}, 4),
        (None, 90, {}, 2),
        (Regime.TRENDING, 100, {"futures_leverage_min": 3, "futures_leverage_max": 5}, 5),
        (Regime.TRENDING, 50, {"futures_leverage_min": 3, "futures_leverage_max": 5}, 4),
    ],
)
async def test_leverage_within_configured_bounds_is_set_on_venue(
    regime: Regime | None,
    confidence: int,
    overrides: dict,
    expected: int,  # type: ignore[type-arg]
) -> None:
    w = futures_world(**overrides)
    await _enter(w, confidence=confidence, regime=regime)
    cfg = w.config
    assert cfg.futures_leverage_min <= w.venue.leverage(ETH) <= cfg.futures_leverage_max
    assert w.venue.leverage(ETH) == expected == w.positions.positions[ETH].leverage
    assert ETH in w.venue.isolated_symbols


async def test_stop_fill_on_venue_closes_position_with_reason_stop_loss() -> None:
    w = futures_world()
    await _enter(w)
    await w.step(w.candle(ETH, 1999.0, 2001.0, 1990.0, 1992.0))
    assert not w.positions.positions
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"
    assert trade.exit_price == D("1997.53")
    assert trade.side is PositionSide.LONG
    assert trade.pnl < 0
    assert await w.venue.get_positions() == []
    assert ("futures", ETH) not in w.recorder.position_rows
    assert w.positions.cash == w.venue.wallet_balance()


async def test_trailing_stop_activates_and_replaces_venue_stop_never_loosening() -> None:
    w = futures_world(futures_trailing_activation_pct=2.0, futures_trailing_distance_pct=1.0)
    await _enter(w)
    [first] = await _venue_stops(w)
    await w.step(w.candle(ETH, 2010.0, 2030.0, 2005.0, 2025.0))  # +1.5 %: not yet active
    assert [o.client_order_id for o in await _venue_stops(w)] == [first.client_order_id]

    await w.step(w.candle(ETH, 2025.0, 2050.0, 2040.0, 2045.0))  # +2.5 %: trail 2050 x 0.99
    [trailed] = await _venue_stops(w)
    assert trailed.client_order_id != first.client_order_id
    assert trailed.stop_price == D("2029.50")
    assert (await w.venue.get_order(ETH, first.client_order_id)).status is OrderStatus.CANCELED
    assert w.positions.positions[ETH].trailing_active

    await w.step(w.candle(ETH, 2045.0, 2046.0, 2031.0, 2035.0))  # lower high: stop stays
    [still] = await _venue_stops(w)
    assert still.client_order_id == trailed.client_order_id
    assert w.positions.positions[ETH].stop_price == D("2029.50")

    await w.step(w.candle(ETH, 2035.0, 2036.0, 2020.0, 2022.0))  # crosses the trailed stop
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"
    assert trade.exit_price == D("2029.50")
    assert trade.pnl > 0
    assert "blacklist" not in w.recorder.event_kinds()


async def test_trailing_stop_not_replaced_when_trail_unchanged_off_tick() -> None:
    w = futures_world(futures_trailing_activation_pct=2.0, futures_trailing_distance_pct=1.0)
    await _enter(w)
    await w.step(w.candle(ETH, 2025.0, 2050.55, 2040.0, 2045.0))  # trail 2030.0445 -> 2030.04
    [trailed] = await _venue_stops(w)
    assert trailed.stop_price == D("2030.04")
    orders_before = len(w.recorder.orders)
    await w.step(w.candle(ETH, 2045.0, 2046.0, 2035.0, 2040.0))  # best price unchanged
    [still] = await _venue_stops(w)
    assert still.client_order_id == trailed.client_order_id
    assert len(w.recorder.orders) == orders_before


async def test_losing_trade_blacklists_symbol_until_duration_passed_on_clock() -> None:
    w = futures_world(futures_blacklist_duration_minutes=60)
    await _enter(w)
    stop_candle = w.candle(ETH, 1999.0, 2001.0, 1990.0, 1992.0)
    await w.step(stop_candle)
    assert w.recorder.trades[0].pnl < 0
    assert "blacklist" in w.recorder.event_kinds()

    await _enter(w, price=1995.0)  # the next minute: refused
    assert not w.positions.positions
    await _enter(w, price=1995.0, open_ms=stop_candle.open_time_ms + 59 * MINUTE_MS)
    assert not w.positions.positions

    await _enter(w, price=1995.0, open_ms=stop_candle.open_time_ms + 60 * MINUTE_MS)
    assert w.positions.has_position(ETH)


async def test_signal_reversal_closes_and_opens_the_opposite_side_in_one_step() -> None:
    w = futures_world()
    await _enter(w)
    [stop] = await _venue_stops(w)
    c = w.candle(ETH, 2000.0, 2004.0, 1999.0, 2003.0)
    w.strategy.at(ETH, c.open_time_ms, Direction.SHORT, 70, ATR, Regime.TRENDING, "reversal")
    await w.step(c)
    [trade] = w.recorder.trades
    assert trade.exit_reason == "signal reversal: reversal"
    pos = w.positions.positions[ETH]
    assert pos.side is PositionSide.SHORT
    assert pos.entry_price == trade.exit_price == D("2003.00")  # one fill price, one step
    assert pos.opened_ms == trade.closed_ms
    assert (await w.venue.get_order(ETH, stop.client_order_id)).status is OrderStatus.CANCELED
    [new_stop] = await _venue_stops(w)  # the new side's own stop, for its quantity
    assert (new_stop.side, new_stop.quantity) == (Side.BUY, pos.quantity)
    markets = [o for _, o in w.recorder.orders.values() if o.order_type is OrderType.MARKET]
    assert [(o.side, o.reduce_only) for o in markets] == [
        (Side.BUY, False), (Side.SELL, True), (Side.SELL, False)
    ]  # fmt: skip
    assert w.positions.cash == w.venue.wallet_balance()


class LateFills(SimFuturesExchange):
    """A SimExchange that reports fills only once ``release`` is called (a slow venue)."""

    held = False

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        return [] if self.held else await super().get_fills(symbol, since_ms)


def _late_world() -> World:
    return futures_world(venue_cls=LateFills)


async def test_reversal_whose_close_fills_late_opens_the_new_side_when_the_fill_is_known() -> None:
    w = _late_world()
    await _enter(w)
    w.venue.held = True
    c = w.candle(ETH, 2000.0, 2004.0, 1999.0, 2003.0)
    w.strategy.at(ETH, c.open_time_ms, Direction.SHORT, 70, ATR, Regime.TRENDING, "reversal")
    await w.step(c)
    assert w.positions.positions[ETH].side is PositionSide.LONG  # the close is in flight
    w.venue.held = False
    await w.engine.monitor_once()  # learns the close's fill, then opens the new side
    assert w.recorder.trades[0].exit_reason == "signal reversal: reversal"
    assert w.positions.positions[ETH].side is PositionSide.SHORT
    await w.engine.monitor_once()
    assert len([o for _, o in w.recorder.orders.values() if not o.reduce_only]) == 2  # once


async def test_reversal_waiting_for_its_close_lapses_when_a_newer_candle_arrives() -> None:
    w = _late_world()
    await _enter(w)
    w.venue.held = True
    c = w.candle(ETH, 2000.0, 2004.0, 1999.0, 2003.0)
    w.strategy.at(ETH, c.open_time_ms, Direction.SHORT, 70, ATR, Regime.TRENDING, "reversal")
    await w.step(c)
    w.venue.held = False
    w.publish(w.candle(ETH, 2003.0, 2003.0, 2003.0, 2003.0))  # a newer bar, FLAT
    await w.engine.monitor_once()
    assert w.recorder.trades[0].exit_reason == "signal reversal: reversal"
    assert not w.positions.positions  # the reversal's signal is stale: nothing opened


async def test_close_all_positions_closes_everything_and_cancels_stops() -> None:
    w = futures_world("20000", symbols=(ETH, BTC))
    await _enter(w, symbol=ETH, price=2000.0)
    await _enter(w, symbol=BTC, price=40000.0)
    assert set(w.positions.positions) == {ETH, BTC}
    stops = [o.client_order_id for s in (ETH, BTC) for o in await _venue_stops(w, s)]
    assert len(stops) == 2

    closed = await _engine(w).close_all_positions("global drawdown breaker")
    assert closed == 2
    assert w.positions.positions == {}
    assert await w.venue.get_positions() == []
    assert await w.venue.get_open_orders() == []
    for cid in stops:
        assert w.recorder.orders[cid][1].status is OrderStatus.CANCELED
    assert sorted(t.exit_reason for t in w.recorder.trades) == ["global drawdown breaker"] * 2
    assert all(o.side is Side.SELL for _, o in w.recorder.orders.values() if o.reduce_only)
    assert w.positions.cash == w.venue.wallet_balance()


async def test_no_futures_entry_when_global_breaker_refuses() -> None:
    w = futures_world()
    w.can_trade[0] = False
    await _enter(w)
    assert not w.positions.positions
    assert await w.venue.get_positions() == []
    assert w.venue.isolated_symbols == frozenset()


async def test_reversal_on_the_bar_that_hit_the_stop_sends_no_doomed_close() -> None:
    """The venue stop filled on this bar before the engine read the reversal signal.

    The close learns that fill first (it cancels the stop, then syncs): the trade is the
    stop's, and no reduce-only order that could only be rejected is sent.
    """
    w = futures_world()
    await _enter(w)
    c = w.candle(ETH, 1999.0, 2001.0, 1990.0, 1992.0)  # through the 1997.53 stop
    w.strategy.at(ETH, c.open_time_ms, Direction.SHORT, 90, 1.2345, Regime.TRENDING, "flip")
    await w.step(c)
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"
    assert trade.exit_price == D("1997.53")
    kinds = sorted((o.order_type.value, o.status.value) for _, o in w.recorder.orders.values())
    assert ("MARKET", "REJECTED") not in kinds
    assert [k for k in kinds if k[0] == "MARKET"] == [("MARKET", "FILLED")]  # the entry only
    assert w.positions.cash == w.venue.wallet_balance()


async def test_a_flat_signal_drops_a_waiting_reversal_at_the_scan() -> None:
    # futures acts on FLAT (a newer signal decides): its scan must call on_signal for it
    # (``ignores_flat`` stays False here)
    w = _late_world()
    await _enter(w)
    w.venue.held = True
    c = w.candle(ETH, 2000.0, 2004.0, 1999.0, 2003.0)
    w.strategy.at(ETH, c.open_time_ms, Direction.SHORT, 70, ATR, Regime.TRENDING, "reversal")
    await w.step(c)
    engine = _engine(w)
    assert ETH in engine.reversals.waiting
    w.publish(w.candle(ETH, 2003.0, 2003.0, 2003.0, 2003.0))  # a newer bar, FLAT
    await engine.scan_once()
    assert ETH not in engine.reversals.waiting

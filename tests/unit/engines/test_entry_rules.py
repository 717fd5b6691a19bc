"""Engines with the configured entry rules (issue 15): size from risk, stop rule, edge, cooldown."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from kinetic.domain import Direction, Regime
from kinetic.engines.futures import FuturesEngine
from tests.unit.engines.kit import MINUTE_MS, World, futures_world, spot_world

D = Decimal
BTC = "BTCUSDT"
ETH = "ETHUSDT"


async def _signal(
    w: World, symbol: str, price: float, direction: Direction = Direction.LONG,
    atr: float = 0.0, confidence: int = 100, regime: Regime | None = Regime.TRENDING,
) -> None:  # fmt: skip
    c = w.candle(symbol, price, price, price, price)
    w.strategy.at(symbol, c.open_time_ms, direction, confidence, atr, regime, "entry")
    await w.step(c)


async def test_spot_entry_is_sized_so_the_loss_at_the_stop_is_the_risk_budget() -> None:
    # risk 1 % of 4000 = 40 at confidence 100; stop 3 % + round trip 0.24 % of 100
    w = spot_world("4000", planned=True, spot_position_size_pct=50.0)
    await _signal(w, BTC, 100.0)
    pos = w.positions.positions[BTC]
    expected = D(40) / (D("3") + D("0.24"))  # 12.345 BTC at 100: 1234.5 < the 2000 cap
    assert expected - D("0.001") <= pos.quantity <= expected
    assert pos.stop_price == D("97.0")
    assert w.risk.refusals == {}


async def test_spot_stop_out_starts_a_cooldown_that_refuses_entries_until_it_ends() -> None:
    w = spot_world(planned=True, stop_cooldown_minutes=30, spot_exchange_stop_enabled=False)
    await _signal(w, BTC, 100.0)
    await w.step(w.candle(BTC, 98.0, 98.5, 96.0, 96.5))  # through the 97 stop
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"
    assert "cooldown" in w.recorder.event_kinds()
    await _signal(w, BTC, 96.0)  # one minute later: refused
    assert not w.positions.has_position(BTC)
    assert w.risk.refusals["cooldown"] == 1
    w.clock.set(w.clock.time() + 30 * 60)
    w.next_open[BTC] += 30 * MINUTE_MS
    await _signal(w, BTC, 96.0)  # after 30 minutes: allowed
    assert w.positions.has_position(BTC)


async def test_spot_cooldown_off_at_zero_minutes() -> None:
    w = spot_world(planned=True, stop_cooldown_minutes=0, spot_exchange_stop_enabled=False)
    await _signal(w, BTC, 100.0)
    await w.step(w.candle(BTC, 98.0, 98.5, 96.0, 96.5))
    await _signal(w, BTC, 96.0)
    assert w.positions.has_position(BTC)


async def test_futures_stop_tighter_than_the_atr_floor_is_widened_on_the_venue() -> None:
    # ATR 10 x stop multiplier 0.5 = 5 away (0.25 %); min_stop_atr 1.5 -> 15 away
    w = futures_world(planned=True, futures_atr_stop_multiplier=0.5, min_edge_cost_ratio=0.0)
    await _signal(w, ETH, 2000.0, atr=10.0)
    pos = w.positions.positions[ETH]
    assert pos.stop_price == D("1985.00")
    [stop] = [o for o in await w.venue.get_open_orders(ETH) if o.reduce_only]
    assert stop.stop_price == D("1985.00")


async def test_futures_entry_refused_when_its_target_cannot_pay_the_round_trip() -> None:
    # target 0.1 x ATR 2 = 0.2 away (0.01 %) vs a 0.15 % round trip
    w = futures_world(planned=True, futures_target_atr_multiplier=0.1)
    await _signal(w, ETH, 2000.0, atr=2.0)
    assert not w.positions.positions
    assert await w.venue.get_open_orders(ETH) == []
    assert w.risk.refusals == {"edge": 1}


async def test_futures_leverage_is_the_smallest_that_carries_the_risk_size() -> None:
    # risk 1 % of 6000 = 60; stop 2 x ATR 20 = 40 (2 %) + 0.15 % costs -> 1.395 ETH = 2791
    # notional; the margin cap is 15 % of 6000 = 900 -> leverage 4 (3 x 900 = 2700 < 2791)
    w = futures_world(planned=True)
    await _signal(w, ETH, 2000.0, atr=20.0)
    pos = w.positions.positions[ETH]
    engine = w.engine
    assert isinstance(engine, FuturesEngine)
    assert pos.leverage == 4
    assert pos.quantity == D("1.395")
    assert pos.stop_price == D("1960.00")


async def test_spot_stop_on_the_fill_is_the_same_with_or_without_the_plans_distance() -> None:
    # the engine anchors its stop with the quote's distance; a quote without one (or a
    # stop above the price) falls back to ``(price - stop) / price``: the same stop
    stops = []
    for strip in (False, True):
        w = spot_world("4000", planned=True, spot_position_size_pct=50.0)
        if strip:
            plan = w.risk.plan

            def no_distance(request: Any, symbol: str = "", plan: Any = plan) -> Any:
                quote = plan(request, symbol)
                assert quote.distance is not None
                return replace(quote, distance=None)

            w.risk.plan = no_distance  # type: ignore[method-assign]
        await _signal(w, BTC, 100.0)
        stops.append(str(w.positions.positions[BTC].stop_price))
    assert stops[0] == stops[1]
    assert D(stops[0]) == D("97.0")

"""Every futures position stays protected by a venue stop (review findings, regression).

The venue wrappers here are hand-written fakes around the SimExchange: they split
fills, delay them, or refuse stop orders, as real venues sometimes do.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from kinetic.domain import Direction, Fill, OrderIntent, OrderType, Regime
from kinetic.engines.futures import FuturesEngine
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.venues.base import PermanentError, TransientError
from tests.unit.engines.kit import MarketType, World, _deps, futures_world

ETH = "ETHUSDT"


async def _enter(w: World, price: float = 2000.0) -> None:
    c = w.candle(ETH, price, price, price, price)
    w.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 1.2345, Regime.TRENDING, "e")
    await w.step(c)


async def _stops(w: World) -> list[object]:
    orders = await w.venue.get_open_orders(ETH)
    return [o for o in orders if o.order_type is OrderType.STOP_MARKET]


async def test_entry_filled_in_two_trades_then_stop_covers_the_whole_position() -> None:
    w = futures_world()
    real = w.venue.get_fills

    async def split(symbol: str, since_ms: int = 0) -> list[Fill]:
        out: list[Fill] = []
        for f in await real(symbol, since_ms):
            if f.reduce_only:
                out.append(f)
                continue
            half = f.quantity / 2
            out.append(dataclasses.replace(f, trade_id=f.trade_id + "a", quantity=half))
            out.append(
                dataclasses.replace(f, trade_id=f.trade_id + "b", quantity=f.quantity - half)
            )
        return out

    w.venue.get_fills = split  # type: ignore[method-assign]
    await _enter(w)
    pos = w.positions.positions[ETH]
    stops = await _stops(w)
    assert len(stops) == 1
    assert stops[0].quantity == pos.quantity  # type: ignore[attr-defined]


async def test_stop_refused_by_venue_then_position_closed_at_grace_and_event_recorded() -> None:
    w = futures_world()
    real = w.venue.place_order

    async def refuse_stops(intent: OrderIntent) -> object:
        if intent.order_type is OrderType.STOP_MARKET:
            raise PermanentError("would immediately trigger")
        return await real(intent)

    w.venue.place_order = refuse_stops  # type: ignore[method-assign]
    await _enter(w)
    assert ETH in w.positions.positions  # retried within the grace period
    assert "unprotected" not in w.recorder.event_kinds()
    w.clock.advance(w.config.protection_grace_seconds)
    await w.engine.protect_once()
    assert ETH not in w.positions.positions
    assert "unprotected" in w.recorder.event_kinds()
    assert not await w.venue.get_positions()


async def test_fill_reported_late_then_position_tracked_and_protected() -> None:
    w = futures_world()
    real = w.venue.get_fills
    hidden = [True]

    async def late(symbol: str, since_ms: int = 0) -> list[Fill]:
        return [] if hidden[0] else await real(symbol, since_ms)

    w.venue.get_fills = late  # type: ignore[method-assign]
    await _enter(w)
    hidden[0] = False
    for _ in range(2):
        await w.step(w.candle(ETH, 2000, 2001, 1999, 2000))
    assert ETH in w.positions.positions
    assert await _stops(w)


async def test_startup_failure_then_next_start_reconciles_again() -> None:
    w = futures_world()
    engine = w.engine
    real = engine.d.oms.reconcile
    calls: list[int] = []

    async def flaky() -> list[object]:
        calls.append(1)
        if len(calls) == 1:
            raise TransientError("blip")
        return await real()

    engine.d.oms.reconcile = flaky  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        await engine.startup()
    await engine.startup()
    assert len(calls) == 2


async def test_restart_after_stop_vanished_then_stop_placed_again() -> None:
    w = futures_world()
    await _enter(w)
    [stop] = await _stops(w)
    # the process restarts; meanwhile a dead-man switch cancelled the stop on the venue
    await w.venue.cancel_order(ETH, stop.client_order_id)  # type: ignore[attr-defined]
    risk = RiskManager(RiskLimits(3, 50), lambda: True)
    deps = _deps(
        w.config,
        "futures",
        MarketType.FUTURES,
        w.venue,
        [ETH],
        w.clock,
        Decimal(6000),
        risk,
        w.strategy,
        w.recorder,
        w.store,
    )
    fresh = FuturesEngine(deps, SymbolBlacklist(0))
    await fresh.startup()
    assert ETH in fresh.d.positions.positions
    assert len(await _stops(w)) == 1


async def test_live_start_takes_cash_from_the_venue_account() -> None:
    w = futures_world()
    venue_cash = (await w.venue.get_balances())["USDT"].total
    w.positions.cash = Decimal(1)  # e.g. the configured allocation, stale after a restart
    w.engine.d.extra["cash_from_venue"] = True
    await w.engine.startup()
    assert w.positions.cash == venue_cash

"""Issue 11: money is never left unprotected (futures engine on the SimExchange kit).

Each test drives the real FuturesEngine and OMS against the SimFuturesExchange; faults
are hand-written wrappers around the simulator (a venue that refuses a kind of order, a
journal that cannot write), time is the kit's ManualClock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kinetic.domain import (
    Direction,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Regime,
    Side,
    TradingState,
)
from kinetic.engines.base import AlwaysActive
from kinetic.engines.futures import FuturesEngine
from kinetic.execution.recorder import MemoryRecorder
from kinetic.venues.base import PermanentError, TransientError
from tests.unit.engines.kit import World, futures_world

D = Decimal
ETH = "ETHUSDT"
ATR = 1.2345  # stop at 2000 - 2.469 -> 1997.53


def _engine(w: World) -> FuturesEngine:
    assert isinstance(w.engine, FuturesEngine)
    return w.engine


def _gate(w: World) -> AlwaysActive:
    gate = w.engine.d.gate
    assert isinstance(gate, AlwaysActive)
    return gate


async def _enter(w: World, price: float = 2000.0, atr: float = ATR) -> None:
    c = w.candle(ETH, price, price, price, price)
    w.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, atr, Regime.TRENDING, "e")
    await w.step(c)


async def _stops(w: World) -> list[Order]:
    return [o for o in await w.venue.get_open_orders(ETH) if o.order_type is OrderType.STOP_MARKET]


def _refuse(w: World, kind: OrderType, reduce_only: bool, times: int = 10**6) -> list[int]:
    """Make the venue refuse ``times`` orders of ``kind``; return the refusal counter."""
    real = w.venue.place_order
    refused = [0]

    async def place(intent: OrderIntent) -> Order:
        if intent.order_type is kind and intent.reduce_only is reduce_only and refused[0] < times:
            refused[0] += 1
            raise PermanentError("refused by the venue")
        result: Order = await real(intent)
        return result

    w.venue.place_order = place
    return refused


# ---------------------------------------------------------------------- the invariant
async def test_stop_cancelled_on_venue_then_next_monitor_step_places_it_again() -> None:
    w = futures_world()
    await _enter(w)
    [old] = await _stops(w)
    await w.venue.cancel_order(ETH, old.client_order_id)  # by hand, or the venue
    await w.step(w.candle(ETH, 2000, 2000.5, 1999.5, 2000))
    [new] = await _stops(w)
    pos = w.positions.positions[ETH]
    assert new.client_order_id != old.client_order_id
    assert (new.quantity, new.stop_price, new.reduce_only) == (pos.quantity, pos.stop_price, True)
    assert "stop_replaced" in w.recorder.event_kinds()
    # the journal learnt that the old stop is gone
    assert w.recorder.orders[old.client_order_id][1].status is OrderStatus.CANCELED


async def test_stop_too_small_on_venue_then_replaced_for_full_size_and_old_cancelled() -> None:
    w = futures_world()
    await _enter(w)
    [old] = await _stops(w)
    pos = w.positions.positions[ETH]
    await w.venue.cancel_order(ETH, old.client_order_id)
    small = _engine(w).d.oms.next_client_order_id(ETH)
    await w.engine.d.oms.submit(
        OrderIntent("futures", ETH, Side.SELL, OrderType.STOP_MARKET, D("1.000"), small,
                    None, pos.stop_price, True)
    )  # fmt: skip
    _engine(w)._stop_orders[ETH] = small
    await _engine(w).protect_once()
    [new] = await _stops(w)
    assert new.quantity == pos.quantity
    assert new.client_order_id != small


async def test_stop_cannot_be_placed_then_closed_at_market_at_grace_with_event() -> None:
    w = futures_world(protection_grace_seconds=10)
    await _enter(w)
    [old] = await _stops(w)
    _refuse(w, OrderType.STOP_MARKET, True)
    await w.venue.cancel_order(ETH, old.client_order_id)
    await _engine(w).protect_once()
    assert ETH in w.positions.positions  # within the grace: retried, not closed
    assert _engine(w).monitor_interval() <= 1.0  # and checked again soon
    w.clock.advance(9.0)
    await _engine(w).protect_once()
    assert ETH in w.positions.positions
    assert "unprotected" not in w.recorder.event_kinds()
    w.clock.advance(1.0)
    await _engine(w).protect_once()
    assert ETH not in w.positions.positions
    assert not await w.venue.get_positions()
    assert "unprotected" in w.recorder.event_kinds()
    [trade] = w.recorder.trades
    assert trade.exit_reason.startswith("unprotected")


async def test_stop_refused_and_price_through_its_level_then_closed_at_once() -> None:
    w = futures_world()
    _refuse(w, OrderType.STOP_MARKET, True)
    await _enter(w)
    # the next bar trades through the stop level: the stop would have fired
    await w.step(w.candle(ETH, 1999, 1999, 1990, 1991))
    assert ETH not in w.positions.positions
    assert "unprotected" in w.recorder.event_kinds()


async def test_stop_cancel_fails_after_the_close_then_next_step_sweeps_it() -> None:
    w = futures_world()
    await _enter(w)
    [stop] = await _stops(w)
    real = w.venue.cancel_order
    fail = [True]

    async def cancel(symbol: str, cid: str) -> Order:
        if fail[0]:
            fail[0] = False
            raise TransientError("timeout")
        result: Order = await real(symbol, cid)
        return result

    w.venue.cancel_order = cancel
    await w.engine.close_position(ETH, "signal reversal")
    assert ETH not in w.positions.positions
    assert len(await _stops(w)) == 1  # left resting: a later entry could hit it
    await w.engine.monitor_once()
    assert await _stops(w) == []
    assert w.recorder.orders[stop.client_order_id][1].status is OrderStatus.CANCELED


# ---------------------------------------------------------------------- closing
async def test_close_is_sent_while_the_stop_still_rests() -> None:
    w = futures_world()
    await _enter(w)
    real = w.venue.place_order
    stops_at_close: list[int] = []

    async def place(intent: OrderIntent) -> Order:
        if intent.order_type is OrderType.MARKET and intent.reduce_only:
            stops_at_close.append(len(await _stops(w)))
        result: Order = await real(intent)
        return result

    w.venue.place_order = place
    await w.engine.close_position(ETH, "signal reversal")
    assert stops_at_close == [1]
    assert ETH not in w.positions.positions
    assert await _stops(w) == []  # cancelled once the close filled


async def test_refused_close_keeps_the_stop_and_is_retried_with_backoff() -> None:
    w = futures_world()
    await _enter(w)
    refused = _refuse(w, OrderType.MARKET, True, times=2)
    await w.engine.close_position(ETH, "signal reversal")
    assert ETH in w.positions.positions
    assert len(await _stops(w)) == 1  # still protected
    assert w.recorder.event_kinds().count("close_failed") == 1
    await w.engine.monitor_once()  # backoff (1 s) not over: no new try
    assert refused[0] == 1
    w.clock.advance(1.0)
    await w.engine.monitor_once()  # second try, refused again; next in 2 s
    assert refused[0] == 2
    assert len(await _stops(w)) == 1
    w.clock.advance(1.0)
    await w.engine.monitor_once()
    assert ETH in w.positions.positions
    w.clock.advance(1.0)
    await w.engine.monitor_once()  # third try goes through
    assert ETH not in w.positions.positions
    assert await _stops(w) == []
    [trade] = w.recorder.trades
    assert trade.exit_reason == "signal reversal"


async def test_refused_close_given_up_after_the_bound_and_the_stop_stays() -> None:
    w = futures_world()
    await _enter(w)
    _refuse(w, OrderType.MARKET, True)
    await w.engine.close_position(ETH, "signal reversal")
    for _ in range(200):
        w.clock.advance(60.0)
        await w.engine.monitor_once()
    assert "close_abandoned" in w.recorder.event_kinds()
    assert w.recorder.event_kinds().count("close_failed") < 20
    assert len(await _stops(w)) == 1
    assert not _engine(w).closes.pending


async def test_stop_fills_while_the_close_is_on_its_way_then_book_has_one_stop_trade() -> None:
    w = futures_world()
    await _enter(w)
    real = w.venue.place_order

    async def stop_hits_first(intent: OrderIntent) -> Order:
        if intent.order_type is OrderType.MARKET and intent.reduce_only:
            # the market trades through the stop just before the close arrives
            w.venue.on_candle(w.candle(ETH, 1999, 1999, 1990, 1991))
        result: Order = await real(intent)
        return result

    w.venue.place_order = stop_hits_first
    await w.engine.close_position(ETH, "signal reversal")
    assert ETH not in w.positions.positions
    [trade] = w.recorder.trades
    assert trade.exit_reason == "stop_loss"
    assert not await w.venue.get_positions()
    assert not _engine(w).closes.pending
    assert "close_failed" not in w.recorder.event_kinds()


async def test_close_fill_reported_late_then_stop_kept_until_the_fill_arrives() -> None:
    w = futures_world()
    await _enter(w)
    real = w.venue.get_fills
    hidden = [True]

    async def late(symbol: str, since_ms: int = 0) -> list[Fill]:
        fills: list[Fill] = await real(symbol, since_ms)
        return [f for f in fills if not (hidden[0] and f.reduce_only)]

    w.venue.get_fills = late
    await w.engine.close_position(ETH, "signal reversal")
    assert ETH in w.positions.positions
    assert len(await _stops(w)) == 1  # the close's fill is not known yet: the stop stays
    await w.engine.monitor_once()
    assert w.recorder.event_kinds().count("close_failed") == 0  # in flight, not failed
    hidden[0] = False
    await w.engine.monitor_once()
    assert ETH not in w.positions.positions
    assert await _stops(w) == []


# ---------------------------------------------------------------------- trading states
async def test_reduce_only_blocks_entries_but_allows_exits() -> None:
    w = futures_world()
    _gate(w).current["futures"] = TradingState.REDUCE_ONLY
    await _enter(w)
    assert not w.positions.positions
    assert not w.recorder.orders  # nothing sent, nothing journaled
    _gate(w).current["futures"] = TradingState.ACTIVE
    await _enter(w)
    _gate(w).current["futures"] = TradingState.REDUCE_ONLY
    c = w.candle(ETH, 2000, 2000, 2000, 2000)
    w.strategy.at(ETH, c.open_time_ms, Direction.SHORT, 90, ATR, Regime.TRENDING, "flip")
    await w.step(c)
    assert not w.positions.positions
    [trade] = w.recorder.trades
    assert trade.exit_reason.startswith("signal reversal")


async def test_halted_blocks_exits_but_protect_once_places_a_missing_stop() -> None:
    w = futures_world()
    await _enter(w)
    [old] = await _stops(w)
    _gate(w).current["futures"] = TradingState.HALTED
    await w.engine.close_all_positions("flatten")
    assert ETH in w.positions.positions  # HALTED: no exits
    await w.venue.cancel_order(ETH, old.client_order_id)
    await w.engine.protect_once()
    [new] = await _stops(w)
    assert new.quantity == w.positions.positions[ETH].quantity


async def test_flatten_in_reduce_only_closes_everything_protected_until_filled() -> None:
    w = futures_world()
    await _enter(w)
    _gate(w).current["futures"] = TradingState.REDUCE_ONLY
    assert await w.engine.close_all_positions("flatten") == 1
    assert not w.positions.positions
    assert not await w.venue.get_positions()
    assert await _stops(w) == []


async def test_cancel_entries_cancels_resting_entries_and_keeps_the_stop() -> None:
    w = futures_world()
    await _enter(w)
    oms = w.engine.d.oms
    cid = oms.next_client_order_id(ETH)
    await oms.submit(
        OrderIntent("futures", ETH, Side.BUY, OrderType.LIMIT, D("0.5"), cid, D("1900"))
    )
    assert await w.engine.cancel_entries() == 1
    open_ = await w.venue.get_open_orders(ETH)
    assert [o.order_type for o in open_] == [OrderType.STOP_MARKET]


# ---------------------------------------------------------------------- journal
class FlakyJournal(MemoryRecorder):
    """A recorder whose order or fill writes fail while a flag is set."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_orders = False
        self.fail_fills = False

    async def record_order(self, engine: str, order: Order, reason: str = "") -> None:
        if self.fail_orders:
            raise OSError("disk full")
        await super().record_order(engine, order, reason)

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        if self.fail_fills:
            raise OSError("disk full")
        return await super().record_fill(engine, fill)


def _flaky(w: World) -> FlakyJournal:
    journal = FlakyJournal()
    w.recorder = journal
    w.engine.d.recorder = journal
    w.engine.d.oms.recorder = journal
    return journal


async def test_order_row_unwritable_then_nothing_sent_and_reduce_only() -> None:
    w = futures_world()
    journal = _flaky(w)
    journal.fail_orders = True
    await _enter(w)
    assert not await w.venue.get_open_orders()
    assert not await w.venue.get_positions()
    assert _gate(w).state("futures") is TradingState.REDUCE_ONLY
    [(engine, state, cause, source)] = _gate(w).causes
    assert (engine, state, source) == ("futures", TradingState.REDUCE_ONLY, "journal")
    assert cause.startswith("journal unwritable")


async def test_exit_row_unwritable_then_not_sent_and_retried_once_writes_recover() -> None:
    w = futures_world()
    journal = _flaky(w)
    await _enter(w)
    journal.fail_orders = True
    await w.engine.close_position(ETH, "signal reversal")
    assert ETH in w.positions.positions
    assert len(await w.venue.get_positions()) == 1  # the close was never sent
    assert len(await _stops(w)) == 1
    assert _gate(w).state("futures") is TradingState.REDUCE_ONLY
    journal.fail_orders = False
    w.clock.advance(1.0)
    await w.engine.monitor_once()  # retried: exits are allowed in REDUCE_ONLY
    assert ETH not in w.positions.positions
    assert "journal_recovered" in journal.event_kinds()
    assert _gate(w).state("futures") is TradingState.REDUCE_ONLY  # an operator clears it


async def test_fill_row_unwritable_then_not_applied_until_it_can_be_written() -> None:
    w = futures_world()
    journal = _flaky(w)
    journal.fail_fills = True
    await _enter(w)
    assert not w.positions.positions  # the fill is on the venue, not in the journal
    assert _gate(w).state("futures") is TradingState.REDUCE_ONLY
    journal.fail_fills = False
    await w.engine.monitor_once()
    assert ETH in w.positions.positions  # fetched again and applied once
    assert len(journal.fills) == 1


# ---------------------------------------------------------------------- liquidation
async def test_entry_refused_when_the_stop_lies_beyond_the_liquidation_price() -> None:
    # leverage 10 liquidates about 9.5 % below the entry; an ATR stop 12 % away is beyond
    w = futures_world()
    await _enter(w, atr=120.0)
    assert not w.positions.positions
    assert not await w.venue.get_open_orders()
    await _enter(w, atr=ATR)
    assert ETH in w.positions.positions


async def test_venue_liquidation_price_recorded_and_near_liquidation_raised_once() -> None:
    w = futures_world(near_liquidation_pct=5.0)
    await _enter(w)
    pos = w.positions.positions[ETH]
    [venue_pos] = await w.venue.get_positions()
    assert pos.liquidation_price == venue_pos.liquidation_price
    assert w.recorder.position_rows[("futures", ETH)].liquidation_price == pos.liquidation_price
    assert "near_liquidation" not in w.recorder.event_kinds()
    liq = float(venue_pos.liquidation_price)
    # the engine's view of the mark moves within 5 % of liquidation (the venue stop is
    # far above; the candle only reaches the engine's store)
    near = liq * 1.03
    w.store.add(w.candle(ETH, near, near, near, near))
    await _engine(w).protect_once()
    await _engine(w).protect_once()
    assert w.recorder.event_kinds().count("near_liquidation") == 1
    far = liq * 1.2
    w.store.add(w.candle(ETH, far, far, far, far))
    await _engine(w).protect_once()
    w.store.add(w.candle(ETH, near, near, near, near))
    await _engine(w).protect_once()
    assert w.recorder.event_kinds().count("near_liquidation") == 2


async def test_protection_read_fails_then_step_skipped_and_nothing_closed() -> None:
    w = futures_world()
    await _enter(w)

    async def down(symbol: str | None = None) -> list[Any]:
        raise TransientError("venue down")

    w.venue.get_open_orders = down
    w.clock.advance(60.0)
    await _engine(w).protect_once()
    assert ETH in w.positions.positions


@pytest.mark.parametrize("state", [TradingState.HALTED, TradingState.REDUCE_ONLY])
async def test_trailing_stop_still_moves_in_any_state(state: TradingState) -> None:
    w = futures_world(futures_trailing_activation_pct=0.1, futures_trailing_distance_pct=0.5)
    await _enter(w)
    _gate(w).current["futures"] = state
    await w.step(w.candle(ETH, 2000, 2030, 2000, 2025))
    [stop] = await _stops(w)
    assert stop.stop_price > D("2000")


async def test_sole_venue_user_then_protection_reads_only_while_a_stop_is_pending() -> None:
    w = futures_world()
    await _enter(w)
    engine = _engine(w)
    engine.sole_venue_user = True  # a backtest: nothing else touches the SimExchange
    reads = [0]
    real = w.venue.get_open_orders

    async def counted(symbol: str | None = None) -> list[Order]:
        reads[0] += 1
        result: list[Order] = await real(symbol)
        return result

    w.venue.get_open_orders = counted
    await engine.protect_once()
    assert reads[0] == 0
    engine.protection.failed(ETH, w.clock.time())  # a stop is pending: watch again
    await engine.protect_once()
    assert reads[0] == 1
    assert len(await _stops(w)) == 1

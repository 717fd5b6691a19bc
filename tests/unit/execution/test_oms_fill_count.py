"""The OMS skips reading fills from a simulator whose fill count has not moved.

``OrderManager.sync_fills`` returns at once when the venue's ``fill_count`` for the
symbol is what it was when a sync last read all of its fills (and nothing else would
make a read change anything). Each test here fails when that early-out is taken where
it must not be: a fill left unjournaled, a final order to forget, a wrapper or
subclass that serves fills its own way, a failure count to reset, a cleared seen set.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kinetic.domain import Fill, MarketType, OrderIntent, OrderStatus, OrderType, Side
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from kinetic.venues.sim import SimSpotExchange, default_instruments
from kinetic.venues.sim.book import OrderBook
from tests.unit.execution.flaky_venue import AutoClock, flat_candle, make_sim_spot

SYM = "BTCUSDT"


class CountingBook(OrderBook):
    """An order book that counts how often the venue's fills are read."""

    reads = 0

    def fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        self.reads += 1
        return super().fills(symbol, since_ms)


class FailingOnce(MemoryRecorder):
    """A recorder whose next fill write fails (storage down for one write)."""

    fail_next = False

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full (test)")
        return await super().record_fill(engine, fill)


class Delegating:
    """A wrapper (``__getattr__``) that hides fills until ``released``: its own list."""

    def __init__(self, inner: SimSpotExchange) -> None:
        self.inner = inner
        self.released = False

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        return await self.inner.get_fills(symbol, since_ms) if self.released else []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LateList(SimSpotExchange):
    """A simulator subclass that lists its fills only once ``released``."""

    released = False

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        return await super().get_fills(symbol, since_ms) if self.released else []


def sim(clock: AutoClock) -> tuple[SimSpotExchange, CountingBook]:
    venue = make_sim_spot(clock, btc="5")
    book = CountingBook()
    venue._book = book
    return venue, book


def oms_for(venue: Any, clock: AutoClock, recorder: MemoryRecorder | None = None) -> OrderManager:
    return OrderManager("spot", venue, recorder or MemoryRecorder(), clock)


async def buy(oms: OrderManager, qty: str = "1") -> str:
    cid = oms.next_client_order_id(SYM)
    intent = OrderIntent("spot", SYM, Side.BUY, OrderType.MARKET, Decimal(qty), cid, reason="entry")
    await oms.submit(intent)
    return cid


async def by_hand(venue: SimSpotExchange) -> None:
    """A trade on the account the OMS did not send (it tracks no order for it)."""
    intent = OrderIntent("spot", SYM, Side.BUY, OrderType.MARKET, Decimal("1"), "hand-1")
    await venue.place_order(intent)


@pytest.fixture
def clock() -> AutoClock:
    return AutoClock()


async def test_unchanged_count_is_not_read_and_a_new_fill_is(clock: AutoClock) -> None:
    venue, book = sim(clock)
    oms = oms_for(venue, clock)
    await buy(oms)
    assert len(await oms.sync_fills(SYM)) == 1
    reads = book.reads
    assert await oms.sync_fills(SYM) == []
    assert book.reads == reads  # nothing new: the venue was not read
    clock.advance(60)
    await buy(oms, "2")
    [fill] = await oms.sync_fills(SYM)
    assert fill.quantity == Decimal("2")


async def test_a_fill_left_unjournaled_is_read_again(clock: AutoClock) -> None:
    venue, _ = sim(clock)
    recorder = FailingOnce()
    oms = oms_for(venue, clock, recorder)
    recorder.fail_next = True
    await by_hand(venue)  # no order of ours awaits it: only the count says "read"
    assert await oms.sync_fills(SYM) == []  # its row could not be written: not applied
    assert oms.journal_error is not None
    [fill] = await oms.sync_fills(SYM)  # same count, yet read again
    assert fill.quantity == Decimal("1")


async def test_a_final_order_is_still_forgotten(clock: AutoClock) -> None:
    venue, _ = sim(clock)
    oms = oms_for(venue, clock)
    await buy(oms)
    await oms.sync_fills(SYM)
    cid = oms.next_client_order_id(SYM)
    stop = OrderIntent("spot", SYM, Side.SELL, OrderType.STOP_MARKET, Decimal("1"), cid, None,
                       Decimal("50"), reason="stop_loss")  # fmt: skip
    order = await oms.submit(stop)
    assert oms.retained()["orders"] == 1
    order.status = OrderStatus.EXPIRED  # learnt elsewhere, not settled yet
    assert await oms.sync_fills(SYM) == []
    assert oms.retained()["orders"] == 0


async def test_an_order_awaiting_fills_makes_it_read(clock: AutoClock) -> None:
    venue, book = sim(clock)
    oms = oms_for(venue, clock)
    cid = await buy(oms)
    await oms.sync_fills(SYM)
    order = oms.order(cid)
    assert order is not None
    order.status, order.filled_qty = OrderStatus.PARTIALLY_FILLED, Decimal("0.5")
    oms._orders[cid] = order  # tracked again, its other half still to come
    reads = book.reads
    await oms.sync_fills(SYM)
    assert book.reads == reads + 1


async def test_a_failure_count_is_reset_by_a_read(clock: AutoClock) -> None:
    venue, _ = sim(clock)
    oms = oms_for(venue, clock)
    await buy(oms)
    await oms.sync_fills(SYM)
    oms.consecutive_failures = 2
    await oms.sync_fills(SYM)
    assert oms.consecutive_failures == 0


async def test_after_the_seen_set_is_cleared_fills_are_read_again(clock: AutoClock) -> None:
    venue, book = sim(clock)
    oms = oms_for(venue, clock)
    await buy(oms)
    oms._seen_trades.update(("X", str(k)) for k in range(10_001))  # about to be cleared
    await oms.sync_fills(SYM)
    assert len(oms._seen_trades) == 0
    reads = book.reads
    await oms.sync_fills(SYM)
    assert book.reads == reads + 1  # read (and found recorded) as before the count existed


async def test_a_wrapper_serving_its_own_fills_is_always_read(clock: AutoClock) -> None:
    inner, _ = sim(clock)
    venue = Delegating(inner)
    oms = oms_for(venue, clock)
    await by_hand(inner)
    assert await oms.sync_fills(SYM) == []  # hidden for now
    venue.released = True
    [fill] = await oms.sync_fills(SYM)
    assert fill.quantity == Decimal("1")


async def test_a_subclass_serving_its_own_fills_is_always_read(clock: AutoClock) -> None:
    venue = LateList(default_instruments(MarketType.SPOT, [SYM]), clock, {"USDT": Decimal("10000")})
    venue.on_candle(flat_candle(SYM, 100.0, clock.time_ms() - 60_000))
    oms = oms_for(venue, clock)
    await buy(oms)
    assert venue.fill_count(SYM) is None  # its fills are not the book's: no count
    assert await oms.sync_fills(SYM) == []
    venue.released = True
    [fill] = await oms.sync_fills(SYM)
    assert fill.quantity == Decimal("1")


async def test_a_checked_sync_takes_fill_checks_count_and_only_a_yes(clock: AutoClock) -> None:
    # ``BaseEngine.sync`` hands ``fill_check``'s answer to ``sync_fills``: the count it
    # read is the one remembered, and a "nothing new" (or no answer) is checked afresh
    venue, book = sim(clock)
    oms = oms_for(venue, clock)
    await buy(oms)
    checked = oms.fill_check(SYM)
    assert checked == (True, venue.fill_count(SYM))
    assert len(await oms.sync_fills(SYM, checked)) == 1
    assert oms.fill_check(SYM) == (False, venue.fill_count(SYM))  # that count, read in full
    reads = book.reads
    assert await oms.sync_fills(SYM, (False, 0)) == []
    assert book.reads == reads  # a "no" is checked again: nothing new, nothing read
    await by_hand(venue)
    [fill] = await oms.sync_fills(SYM, (False, 0))  # checked again: the new fill is read
    assert fill.client_order_id == "hand-1"

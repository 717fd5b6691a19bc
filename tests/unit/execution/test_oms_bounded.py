"""The OMS keeps in memory what is live, not its history (issue 13 item 3).

Thousands of refused, cancelled and filled orders go through one ``OrderManager``; what
it retains (``retained()``: counted objects, no timings) stays bounded by the orders
still open plus fixed-size recent windows, and a step's scans only see live orders.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from kinetic.domain import Order, OrderIntent, OrderStatus, OrderType, Side
from kinetic.execution.oms import RECENT_FINAL, RECENT_REASONS, OrderManager
from kinetic.execution.recorder import MemoryRecorder
from tests.unit.execution.flaky_venue import AutoClock, make_sim_spot

D = Decimal
SYM = "BTCUSDT"
ROUNDS = 2_000  # x 7 orders per round


def _intent(oms: OrderManager, side: Side, qty: str, order_type: OrderType = OrderType.MARKET,
            price: str | None = None) -> OrderIntent:  # fmt: skip
    return OrderIntent(
        "spot", SYM, side, order_type, D(qty), oms.next_client_order_id(SYM),
        None if price is None else D(price), None, reason="soak",
    )  # fmt: skip


async def test_refused_cancelled_and_filled_orders_leave_memory_once_journaled() -> None:
    clock = AutoClock()
    venue = make_sim_spot(clock, usdt="100000000", btc="100000")
    recorder = MemoryRecorder()
    oms = OrderManager("spot", venue, recorder, clock)
    resting = await oms.submit(_intent(oms, Side.BUY, "1", OrderType.LIMIT, "50"))
    peak: dict[str, int] = {}
    for _ in range(ROUNDS):
        refused = await oms.submit(_intent(oms, Side.BUY, "0.00001"))  # below min notional
        assert refused.status is OrderStatus.REJECTED
        limit = await oms.submit(_intent(oms, Side.BUY, "1", OrderType.LIMIT, "60"))
        assert limit.status is OrderStatus.NEW
        await oms.cancel(limit.client_order_id)
        assert limit.status is OrderStatus.CANCELED
        buy = await oms.submit(_intent(oms, Side.BUY, "1"))
        sell = await oms.submit(_intent(oms, Side.SELL, "1"))
        assert buy.status is sell.status is OrderStatus.FILLED
        assert oms.awaiting_fills(SYM)  # filled on the venue, trades not seen yet
        fills = await oms.sync_fills(SYM)
        assert {f.client_order_id for f in fills} == {buy.client_order_id, sell.client_order_id}
        # an engine with nothing held syncs no fills: refusals alone must not pile up
        for _ in range(3):
            await oms.submit(_intent(oms, Side.BUY, "0.00001"))
        clock.advance(1.0)
        for key, value in oms.retained().items():
            peak[key] = max(peak.get(key, 0), value)
    # every order was journaled (7 per round, plus the resting one) ...
    assert len(recorder.orders) == 7 * ROUNDS + 1
    # ... but the OMS keeps only the one still open, and fixed-size recent windows
    assert [o.client_order_id for o in oms.open_orders()] == [resting.client_order_id]
    retained = oms.retained()
    assert retained["orders"] == 1
    assert peak["orders"] <= 3  # the resting order plus at most the two awaiting fills
    assert peak["final"] <= RECENT_FINAL
    assert peak["recent_reasons"] <= RECENT_REASONS
    assert peak["reasons"] <= 3
    assert peak["venue_filled"] <= 2
    assert peak["seen_trades"] <= 10_001
    assert oms.has_open_orders()
    assert not oms.awaiting_fills(SYM)
    # a recently final order is still answered by client id, with its reason
    assert oms.order(sell.client_order_id) is sell
    assert oms.reason(sell.client_order_id) == "soak"


async def test_an_order_refused_at_once_is_not_live_but_still_answered() -> None:
    clock = AutoClock()
    oms = OrderManager("spot", make_sim_spot(clock), MemoryRecorder(), clock)
    refused = await oms.submit(_intent(oms, Side.BUY, "0.00001"))
    assert refused.status is OrderStatus.REJECTED
    assert oms.retained()["orders"] == 0
    assert not oms.has_open_orders()
    assert oms.order(refused.client_order_id) is refused
    # the window of recent final orders is bounded: the oldest leaves first
    for _ in range(RECENT_FINAL):
        await oms.submit(_intent(oms, Side.BUY, "0.00001"))
    assert oms.order(refused.client_order_id) is None
    assert oms.retained()["final"] == RECENT_FINAL


async def test_the_reasons_of_forgotten_orders_are_kept_for_the_newest_only() -> None:
    clock = AutoClock()
    oms = OrderManager("spot", make_sim_spot(clock), MemoryRecorder(), clock)
    cids = []
    for i in range(RECENT_REASONS + 3):
        intent = replace(_intent(oms, Side.BUY, "0.00001"), reason=f"r{i}")
        cids.append((await oms.submit(intent)).client_order_id)
    assert oms.retained()["recent_reasons"] == RECENT_REASONS
    assert [oms.reason(c) for c in cids[:3]] == ["", "", ""]  # the oldest left first
    assert [oms.reason(c) for c in cids[3:]] == [f"r{i}" for i in range(3, RECENT_REASONS + 3)]


class _CutVenue:
    """Fills a market order at once for less than asked (a reduce-only close cut to the
    position): FILLED, with the venue's own filled quantity."""

    async def place_order(self, intent: OrderIntent) -> Order:
        return Order(
            intent.client_order_id, intent.symbol, intent.side, intent.order_type,
            intent.quantity, OrderStatus.FILLED, filled_qty=D("0.4"), avg_price=D("100"),
        )  # fmt: skip


async def test_what_the_venue_reports_filled_at_placement_is_kept() -> None:
    clock = AutoClock()
    oms = OrderManager("spot", _CutVenue(), MemoryRecorder(), clock)  # type: ignore[arg-type]
    order = await oms.submit(_intent(oms, Side.SELL, "1"))
    assert order.status is OrderStatus.FILLED
    assert oms.awaiting_fills(SYM)  # its trades are not seen yet
    assert oms.unseen_fills(SYM) == D("-0.4")  # the venue's 0.4, not the order's 1


async def test_a_final_order_partly_filled_on_the_venue_stays_until_its_trades_are_seen() -> None:
    # the venue filled 0.5 and expired the rest; its trade list lags: the fill sync keeps
    # the order tracked (and awaited) until the trade arrives, then forgets it
    clock = AutoClock()
    venue = make_sim_spot(clock, usdt="100000000", btc="100000")
    sim_place, sim_fills, lagging = venue.place_order, venue.get_fills, [True]

    async def place(intent: OrderIntent) -> Order:
        return replace(await sim_place(intent), status=OrderStatus.EXPIRED, filled_qty=D("0.5"))

    async def fills(symbol: str, since_ms: int = 0) -> list[Any]:
        return [] if lagging[0] else await sim_fills(symbol, since_ms)

    venue.place_order, venue.get_fills = place, fills  # type: ignore[method-assign]
    oms = OrderManager("spot", venue, MemoryRecorder(), clock)
    order = await oms.submit(_intent(oms, Side.BUY, "1"))
    assert order.status is OrderStatus.EXPIRED
    assert await oms.sync_fills(SYM) == []
    assert oms.retained()["orders"] == 1
    assert oms.awaiting_fills(SYM)
    lagging[0] = False
    [fill] = await oms.sync_fills(SYM)
    assert order.filled_qty == fill.quantity
    assert oms.retained()["orders"] == 0
    assert not oms.awaiting_fills(SYM)
    assert oms.order(order.client_order_id) is order  # recently final: still answered

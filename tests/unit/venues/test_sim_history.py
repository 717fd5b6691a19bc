"""SimExchange history window: how many final orders and fills stay queryable.

A paper venue keeps ``book.MAX_FINAL_ORDERS`` final orders and ``MAX_FILLS_PER_SYMBOL``
fills per symbol; ``keep_history`` narrows both (a backtest's world narrows them to
``VENUE_HISTORY``, its recorder counting every order and fill for the report).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.world import VENUE_HISTORY, build_world
from kinetic.clock import ManualClock
from kinetic.domain import Candle, MarketType, OrderIntent, OrderStatus, OrderType, Side
from kinetic.venues.sim import SimSpotExchange, book, default_instruments
from tests.unit.backtest.bt_kit import base_config

SYM = "BTCUSDT"


def _venue() -> SimSpotExchange:
    clock = ManualClock(0.0)
    insts = default_instruments(MarketType.SPOT, [SYM])
    venue = SimSpotExchange(insts, clock, {"USDT": Decimal(10**9)}, name="sim-spot")
    venue.on_candle(Candle(SYM, 0, 59_999, 100.0, 100.0, 100.0, 100.0, 10.0))
    return venue


async def _trade(venue: SimSpotExchange, start: int, stop: int) -> None:
    """Orders ``c{start}`` .. ``c{stop-1}``: market buys and sells, each filled at once."""
    for k in range(start, stop):
        side = Side.BUY if k % 2 == 0 else Side.SELL
        intent = OrderIntent(engine="t", symbol=SYM, side=side, order_type=OrderType.MARKET,
                             quantity=Decimal("0.1"), client_order_id=f"c{k}")  # fmt: skip
        placed = await venue.place_order(intent)
        assert placed.status is OrderStatus.FILLED


async def test_a_paper_venue_keeps_its_default_window() -> None:
    venue = _venue()
    await _trade(venue, 0, 60)
    assert venue.retained() == {"orders": 60, "open": 0, "fills": 60}
    assert await venue.get_order(SYM, "c0") is not None


async def test_a_narrowed_venue_forgets_the_oldest_orders_and_fills() -> None:
    venue = _venue()
    await _trade(venue, 0, 10)
    venue.keep_history(5, 4)
    await _trade(venue, 10, 30)
    kept = venue.retained()
    assert kept["orders"] == 5  # the newest five final orders
    assert 4 <= kept["fills"] <= 2 * 4  # trimmed in batches to the newest four
    assert await venue.get_order(SYM, "c29") is not None
    assert await venue.get_order(SYM, "c24") is None
    fills = await venue.get_fills(SYM)
    assert fills[-1].client_order_id == "c29"
    assert {f.client_order_id for f in fills} <= {f"c{k}" for k in range(22, 30)}


def test_a_window_keeps_at_least_one_order_and_one_fill() -> None:
    with pytest.raises(ValueError, match="at least one"):
        _venue().keep_history(0, 10)
    with pytest.raises(ValueError, match="at least one"):
        _venue().keep_history(10, 0)


def test_a_backtest_world_narrows_every_venue() -> None:
    opts = BacktestOptions(engines=("spot", "futures"), symbols=(SYM,), data=())
    world = build_world(base_config(), opts, [SYM], 1.0)
    assert VENUE_HISTORY < book.MAX_FINAL_ORDERS
    for slot in world.slots:
        assert slot.venue._book.max_final == VENUE_HISTORY
        assert slot.venue._book.max_fills == VENUE_HISTORY

"""A spot stop that rounds to nothing (``--raw`` puts it at 1e-9 x entry) is not placed;
the protection step asks again on every bar, and any change of level or size that makes
it real places it at once (whatever the engine remembers between bars)."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.engines.test_spot_stops import BTC, enter, resting, world

D = Decimal


async def test_a_stop_that_rounds_to_nothing_is_placed_once_its_level_is_real() -> None:
    w = world()
    await enter(w)
    pos = w.positions.positions[BTC]
    [stop] = await resting(w)
    await w.venue.cancel_order(BTC, stop.client_order_id)
    pos.stop_price = D("0.004")  # below half a tick: rounds down to 0.00
    for _ in range(2):  # asked on every monitor step
        await w.step(w.candle(BTC, 100.0, 100.0, 100.0, 100.0))
        assert await resting(w) == []
    pos.stop_price = D("90")
    await w.step(w.candle(BTC, 100.0, 100.0, 100.0, 100.0))
    [stop] = await resting(w)
    assert (stop.stop_price, stop.quantity) == (D("90.00"), pos.quantity)
    await w.venue.cancel_order(BTC, stop.client_order_id)
    held = pos.quantity
    pos.stop_price, pos.quantity = D("91"), D("0.000001")  # below one lot: nothing to sell
    await w.step(w.candle(BTC, 100.0, 100.0, 100.0, 100.0))
    assert await resting(w) == []
    pos.quantity = held  # the same stop, a real size: placed
    await w.step(w.candle(BTC, 100.0, 100.0, 100.0, 100.0))
    [stop] = await resting(w)
    assert (stop.stop_price, stop.quantity) == (D("91.00"), held)

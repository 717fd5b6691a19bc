"""Protection on every venue's real futures client against its fake server (issue 11).

A stop cancelled on the venue behind the engine's back (by hand in the web UI, or by
the venue) is placed again by the next monitor step, and by ``protect_once`` of an
engine that is HALTED: every position keeps a reduce-only stop for its full size. The
Binance-only cases (the algo endpoint refusing stops, stop fills, the restart) are in
``test_futures_protection_binance``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kinetic.domain import TradingState
from tests.integration.engines.rig import BINANCE, KRAKEN, Rig, Wiring, open_rig


@pytest.fixture(params=[BINANCE, KRAKEN], ids=lambda v: v.name)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async with open_rig(request.param, Wiring()) as made:
        yield made


async def test_stop_cancelled_on_the_venue_then_next_monitor_step_places_it_again(
    rig: Rig,
) -> None:
    await rig.enter_long()
    [old] = rig.stop_views()
    qty = rig.engine.d.positions.positions[rig.venue.symbol].quantity
    assert (old.qty, old.side, old.reduce_only, old.stop_market) == (qty, "sell", True, True)
    assert rig.position_amt() == qty
    rig.cancel_stops()
    assert rig.stops() == []
    rig.publish(rig.candle(2000.0))
    await rig.engine.monitor_once()
    [new] = rig.stop_views()
    assert new.client_id != old.client_id
    assert (new.qty, new.side, new.reduce_only, new.stop_market) == (qty, "sell", True, True)
    assert "stop_replaced" in rig.recorder.event_kinds()


async def test_halted_engine_protect_once_places_the_missing_stop(rig: Rig) -> None:
    await rig.enter_long()
    rig.gate.current["futures"] = TradingState.HALTED
    rig.cancel_stops()
    await rig.engine.protect_once()
    [new] = rig.stop_views()
    assert (new.qty, new.reduce_only, new.stop_market) == (rig.position_amt(), True, True)

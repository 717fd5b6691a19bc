"""Protection on the real Binance USD-M client against the fake venue server (issue 11).

The FuturesEngine is wired as the daemon wires it for live trading, but with the fake
Binance USD-M server (``kinetic.venues.fakes``) on 127.0.0.1, a FastClock (every sleep
moves time at once) and a scripted strategy. Stops go to the fake's algo endpoint, as
they do on the real venue; tests refuse them, fire them (while the daemon runs, or while
it is down) and check what rests on the venue afterwards. What every venue shares (a
stop cancelled behind the engine's back is placed again) is in ``test_futures_protection_venues``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from structlog.testing import capture_logs

from kinetic.domain import OrderStatus
from kinetic.venues.fakes.binance_state import FakeOrder
from tests.integration.engines.rig import BINANCE, Rig, Wiring, open_rig

ETH = BINANCE.symbol
ALGO = "/fapi/v1/algoOrder"


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with open_rig(BINANCE, Wiring()) as made:
        yield made


async def test_protection_step_reads_open_orders_once_for_every_symbol(rig: Rig) -> None:
    await rig.enter_long()
    before = len(rig.server.requests)
    await rig.engine.protect_once()
    paths = [path for _, path, _ in rig.server.requests[before:]]
    assert paths.count("/fapi/v1/openOrders") == 1
    assert paths.count("/fapi/v1/openAlgoOrders") == 1
    assert paths.count("/fapi/v3/positionRisk") == 1


async def test_stops_refused_by_binance_then_closed_at_market_within_grace(rig: Rig) -> None:
    await rig.enter_long()
    [old] = rig.stops()
    rig.server.inject("503", path=ALGO, times=10_000)  # the algo service is down
    rig.server.book.cancel(old)
    start = rig.clock.time()
    while ETH in rig.engine.d.positions.positions and rig.clock.time() - start < 60:
        rig.clock.advance(1.0)
        await rig.engine.protect_once()
    assert ETH not in rig.engine.d.positions.positions
    elapsed = rig.clock.time() - start
    assert 10 <= elapsed <= 10 + 10  # the grace, and the last step's retries
    assert rig.position_amt() == 0
    assert "unprotected" in rig.recorder.event_kinds()


def _unknown_order_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e.get("event") == "fill of unknown order"]


async def test_stop_fired_on_binance_then_position_closed_in_the_books_once(rig: Rig) -> None:
    """The stop's fill comes from the order that executed the algo order (its
    ``actualOrderId``): it is attributed to the stop and closes the position once."""
    with capture_logs() as logs:
        await rig.enter_long()
        [stop] = rig.stops()
        qty = rig.engine.d.positions.positions[ETH].quantity
        rig.publish(rig.candle(float(stop.stop) - 50))  # through the stop: it fires
        assert rig.position_amt() == 0
        for _ in range(3):  # later steps change nothing
            rig.clock.advance(5.0)
            await rig.engine.monitor_once()
    assert ETH not in rig.engine.d.positions.positions
    [trade] = rig.recorder.trades
    assert (trade.exit_reason, trade.quantity) == ("stop_loss", qty)
    assert trade.exit_price == stop.stop - 50
    assert rig.recorder.orders[stop.client_id][1].status is OrderStatus.FILLED
    stop_fills = [f for f in rig.recorder.fills.values() if f.client_order_id == stop.client_id]
    assert [f.quantity for f in stop_fills] == [qty]
    assert not rig.stops()
    assert rig.position_amt() == 0
    assert not _unknown_order_logs(logs)


async def _stop_fires_while_down(rig: Rig) -> tuple[Rig, FakeOrder, Decimal, list[Any]]:
    """Enter, die, the stop fires, restart (new client, new engine, same journal)."""
    await rig.engine.startup()  # the instance id the client ids carry
    await rig.enter_long()
    [stop] = rig.stops()
    qty = rig.engine.d.positions.positions[ETH].quantity
    await rig.client.close()  # the process dies
    rig.publish(rig.candle(float(stop.stop) - 50))  # the stop fires meanwhile
    with capture_logs() as logs:
        again = await rig.restart()
        try:
            again.store.add(rig.candle(float(stop.stop) - 50))
            await again.engine.startup()
            await again.engine.monitor_once()
        finally:
            await again.client.close()
    return again, stop, qty, logs


async def test_stop_fired_while_daemon_down_then_restart_applies_it_once(rig: Rig) -> None:
    """The takeover finds the journaled stop FILLED, attributes its fill (learned through
    the algo order's ``actualOrderId``) and closes the journal's position: no foreign
    fill, no position dropped as "not held on the venue"."""
    again, stop, qty, logs = await _stop_fires_while_down(rig)
    assert ETH not in again.engine.d.positions.positions
    assert (again.engine.name, ETH) not in rig.recorder.position_rows
    actions = [e[3].get("action") for e in rig.recorder.events]
    assert "foreign_fill" not in actions, rig.recorder.events
    assert "dropped" not in actions, rig.recorder.events
    assert actions.count("fill_applied") == 1
    stop_fills = [f for f in rig.recorder.fills.values() if f.client_order_id == stop.client_id]
    assert [f.quantity for f in stop_fills] == [qty]
    [trade] = rig.recorder.trades
    assert trade.quantity == qty
    assert trade.exit_price == stop.stop - 50
    assert not again.server.book.open_orders(ETH, algo=True)
    assert again.position_amt() == 0
    assert not _unknown_order_logs(logs)


async def test_stop_fired_while_daemon_down_then_trade_reason_is_stop_loss(rig: Rig) -> None:
    await _stop_fires_while_down(rig)
    [trade] = rig.recorder.trades
    assert trade.exit_reason == "stop_loss"

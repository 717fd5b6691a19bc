"""ControlService on the real engines (engine test kit, SimExchanges): the kill switch
cancels entries and take-profits and keeps stops, flatten closes everything, and the
states, causes and events say what happened."""

from __future__ import annotations

from decimal import Decimal

from kinetic.control.service import ControlService
from kinetic.domain import Direction, OrderIntent, OrderType, Regime, Side, TradingState
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.trading_states import DAEMON
from tests.fakes import MemorySink
from tests.unit.engines.kit import World, futures_world, spot_world

ETH, BTC = "ETHUSDT", "BTCUSDT"
A, R, H = TradingState.ACTIVE, TradingState.REDUCE_ONLY, TradingState.HALTED


async def _enter_futures(w: World, price: float = 2000.0) -> None:
    c = w.candle(ETH, price, price, price, price)
    w.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 12.0, Regime.TRENDING, "e")
    await w.step(c)


async def _enter_spot(w: World, price: float = 100.0) -> None:
    c = w.candle(BTC, price, price, price, price)
    w.strategy.at(BTC, c.open_time_ms, Direction.LONG, 80, reason="uptrend")
    await w.step(c)


async def _rest_limit(
    w: World, side: Side, qty: str, price: str, *, reduce_only: bool = False
) -> str:
    oms = w.engine.d.oms
    cid = oms.next_client_order_id(ETH)
    intent = OrderIntent("futures", ETH, side, OrderType.LIMIT, Decimal(qty), cid, Decimal(price),
                         None, reduce_only)  # fmt: skip
    await oms.submit(intent)
    return cid


def _service(*worlds: World) -> tuple[ControlService, Orchestrator, MemorySink]:
    sink = MemorySink()
    w0 = worlds[0]
    engines = {w.engine.name: w.engine for w in worlds}
    orch = Orchestrator(w0.config, dict(engines), sink, w0.clock, w0.clock)  # type: ignore[arg-type]
    return ControlService(orch, sink), orch, sink


async def _venue_orders(w: World) -> dict[str, OrderType]:
    return {o.client_order_id: o.order_type for o in await w.venue.get_open_orders(ETH)}


async def test_kill_switch_on_cancels_entries_and_take_profits_keeps_the_stop_and_halts() -> None:
    fw = futures_world()
    await _enter_futures(fw)
    pos = fw.positions.positions[ETH]
    entry = await _rest_limit(fw, Side.BUY, "0.5", "1500")
    take_profit = await _rest_limit(fw, Side.SELL, str(pos.quantity), "2600", reduce_only=True)
    before = await _venue_orders(fw)
    assert {entry, take_profit} <= set(before)
    assert OrderType.STOP_MARKET in before.values()
    service, orch, sink = _service(fw)

    result = await service.kill_switch(True, "maintenance")

    assert result.ok
    assert result.data["cancelled"] == {"futures": 2}
    after = await _venue_orders(fw)
    assert list(after.values()) == [OrderType.STOP_MARKET]  # the stop rests, alone
    assert fw.positions.positions[ETH].quantity == pos.quantity
    own = orch.states.own(DAEMON)
    assert (own.state, own.cause, own.source) == (H, "kill switch: maintenance", "operator")
    assert orch.states.state("futures") is H
    assert service.status()["kill_switch"] is True
    assert "kill switch ON" in result.message
    assert "stops kept" in result.message
    assert [e[0] for e in sink.events] == ["trading_state", "kill_switch"]


async def test_kill_switch_off_clears_every_scope_back_to_active() -> None:
    fw = futures_world()
    service, orch, _sink = _service(fw)
    await service.kill_switch(True, "test")
    await orch.states.escalate("futures", R, "drift", "drift")
    result = await service.kill_switch(False, "done")
    assert result.ok
    assert result.data["cleared"] == ["daemon", "futures"]
    assert orch.states.state("futures") is A
    assert service.status()["kill_switch"] is False
    again = await service.kill_switch(False)
    assert "nothing to clear" in again.message


async def test_kill_switch_off_for_one_engine_and_unknown_engine() -> None:
    fw = futures_world()
    service, orch, _sink = _service(fw)
    await orch.states.escalate("futures", H, "restart budget exhausted", "supervisor")
    await orch.states.escalate(DAEMON, R, "flatten", "operator")
    result = await service.kill_switch(False, engine="futures")
    assert result.data["cleared"] == ["futures"]
    assert orch.states.own(DAEMON).state is R
    bad = await service.kill_switch(False, engine="options")
    assert not bad.ok
    assert "unknown engine" in bad.message


async def test_flatten_closes_every_position_and_leaves_the_daemon_reduce_only() -> None:
    fw, sw = futures_world(), spot_world()
    sw.clock = fw.clock  # one time for both engines
    await _enter_futures(fw)
    await _enter_spot(sw)
    assert fw.positions.positions
    assert sw.positions.positions
    service, orch, sink = _service(fw, sw)
    await service.kill_switch(True, "first stop everything")

    result = await service.flatten("end of test")

    assert result.ok, result.message
    assert result.data["closed"] == {"futures": 1, "spot": 1}
    assert not fw.positions.positions
    assert not sw.positions.positions
    assert not [o for o in await fw.venue.get_open_orders(ETH) if not o.status.is_terminal]
    own = orch.states.own(DAEMON)
    assert (own.state, own.cause) == (R, "flatten")  # HALTED stepped down so exits can go
    assert "all flat" in result.message
    assert "flatten" in [e[0] for e in sink.events]
    assert [t.exit_reason for t in fw.recorder.trades] == ["end of test"]


async def _cancel_refused() -> int:
    raise RuntimeError("venue down")


async def test_one_engine_failing_to_cancel_then_the_other_still_cancels_and_it_is_reported() -> (
    None
):
    fw, sw = futures_world(), spot_world()
    await _enter_futures(fw)
    entry = await _rest_limit(fw, Side.BUY, "0.5", "1500")
    sw.engine.cancel_entries = _cancel_refused  # type: ignore[method-assign]
    service, _, _ = _service(sw, fw)  # the failing engine first

    cancelled = await service.cancel_all("test")
    assert cancelled.data["cancelled"] == {"futures": 1}
    assert entry not in await _venue_orders(fw)
    await _rest_limit(fw, Side.BUY, "0.5", "1400")
    killed = await service.kill_switch(True, "test")
    assert killed.data["cancelled"] == {"futures": 1}
    for result in (cancelled, killed):
        assert not result.ok
        assert result.data["failed"] == {"spot": "RuntimeError('venue down')"}
        assert "spot (RuntimeError('venue down'))" in result.message

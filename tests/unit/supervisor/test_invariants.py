"""InvariantMonitor on real engines (the engine kit): violations, events, state changes."""

from __future__ import annotations

from decimal import Decimal

from kinetic.domain import Direction, OrderType, Regime, TradingState
from kinetic.engines.base import AlwaysActive
from kinetic.supervisor.invariants import InvariantMonitor
from tests.unit.engines.kit import World, futures_world

D = Decimal
ETH = "ETHUSDT"


async def _entered(**overrides: object) -> World:
    w = futures_world(**overrides)
    c = w.candle(ETH, 2000.0, 2000.0, 2000.0, 2000.0)
    w.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 1.2345, Regime.TRENDING, "entry")
    await w.step(c)
    assert ETH in w.positions.positions
    return w


def _monitor(w: World, gate: AlwaysActive, probe: object = None) -> InvariantMonitor:
    return InvariantMonitor(w.config, w.clock, gate, w.recorder, probe, grace_s=10)  # type: ignore[arg-type]


async def test_invariants_when_position_protected_then_none_violated() -> None:
    w = await _entered()
    gate = AlwaysActive()
    assert await _monitor(w, gate).check([w.engine]) == []
    assert gate.causes == []


async def test_invariants_when_stop_missing_beyond_grace_then_reduce_only_once() -> None:
    w = await _entered()
    gate = AlwaysActive()
    monitor = _monitor(w, gate)
    [stop] = [o for o in w.engine.d.oms.open_orders(ETH) if o.order_type is OrderType.STOP_MARKET]
    await w.engine.d.oms.cancel(stop.client_order_id)
    assert await monitor.check([w.engine]) == []  # within the grace period
    w.clock.advance(11)
    [v] = await monitor.check([w.engine])
    assert v.kind == "unprotected"
    assert gate.state("futures") is TradingState.REDUCE_ONLY
    await monitor.check([w.engine])
    assert w.recorder.event_kinds().count("invariant") == 1  # once while it lasts


async def test_invariants_when_too_many_positions_then_violation_and_cleared_event() -> None:
    w = await _entered(futures_max_positions=1)
    gate = AlwaysActive()
    monitor = _monitor(w, gate)
    assert await monitor.check([w.engine]) == []
    w.config = w.engine.d.config = w.config.model_copy(update={"futures_max_positions": 0})
    monitor.config = w.config
    [v] = await monitor.check([w.engine])
    assert v.kind == "position_count"
    monitor.config = w.config.model_copy(update={"futures_max_positions": 3})
    assert await monitor.check([w.engine]) == []
    assert "invariant_cleared" in w.recorder.event_kinds()


async def test_invariants_when_margin_beyond_limit_then_violation() -> None:
    w = await _entered()
    gate = AlwaysActive()
    monitor = _monitor(w, gate)
    w.positions.cash = w.engine.exposure() / 2  # margin is twice the wallet
    kinds = [v.kind for v in await monitor.check([w.engine])]
    assert "margin" in kinds


async def test_invariants_when_journal_write_fails_then_every_engine_reduce_only() -> None:
    w = await _entered()
    gate = AlwaysActive()

    async def broken() -> None:
        raise OSError("disk full")

    [v] = await _monitor(w, gate, broken).check([w.engine])
    assert v.kind == "journal"
    assert gate.state("futures") is TradingState.REDUCE_ONLY


async def test_orchestrator_step_runs_invariants_on_ready_engines_every_interval() -> None:
    from kinetic.supervisor.orchestrator import INVARIANT_INTERVAL_S, Orchestrator
    from tests.fakes import MemorySink

    w = await _entered()
    gate = AlwaysActive()
    monitor = _monitor(w, gate)
    orch = Orchestrator(w.config, {"futures": w.engine}, MemorySink(), w.clock, w.clock,
                        invariants=monitor)  # fmt: skip
    [stop] = [o for o in w.engine.d.oms.open_orders(ETH) if o.order_type is OrderType.STOP_MARKET]
    await w.engine.d.oms.cancel(stop.client_order_id)
    w.clock.advance(11)
    await orch.monitor_once()
    assert gate.causes == []  # not ready: never started, so not checked
    await w.engine.startup()  # the takeover's protection places the stop again
    await w.engine.d.oms.cancel(
        next(o for o in w.engine.d.oms.open_orders(ETH) if o.reduce_only).client_order_id
    )
    w.clock.advance(INVARIANT_INTERVAL_S)
    await orch.monitor_once()  # first sighting starts the grace period
    w.clock.advance(INVARIANT_INTERVAL_S * 3)
    await orch.monitor_once()
    assert [c[3] for c in gate.causes] == ["invariant"]

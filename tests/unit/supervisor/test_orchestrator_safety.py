"""The orchestrator's side of "money is never left unprotected": the drawdown hold lasts
until an operator clears it, an engine past its restart budget is HALTED and its
protection keeps running, and no risk check runs before every engine has read its
account."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from config import UnifiedConfig
from kinetic.clock import ManualClock
from kinetic.domain import TradingState
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.trading_states import DAEMON
from tests.fakes import FakeEngine, MemorySink

# seed 000 runs both engines; the default config leaves spot off (issue 15: no spot
# strategy passed the out-of-sample validation)
BOTH = {"spot_enabled": True}

T0 = 1_760_000_000.0


class GuardedEngine(FakeEngine):
    """A FakeEngine with the start-up flag and the protection step of the real ones."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.ready = True
        self.protect_calls = 0

    async def protect_once(self) -> None:
        self.protect_calls += 1


def _orch(
    cfg: UnifiedConfig, **equity: int
) -> tuple[Orchestrator, dict[str, GuardedEngine], ManualClock, MemorySink]:
    clock, sink = ManualClock(T0), MemorySink()
    engines = {n: GuardedEngine(n, clock, equity=Decimal(v)) for n, v in equity.items()}
    orch = Orchestrator(cfg, dict(engines), sink, clock, clock)
    for e in engines.values():
        e.heartbeat = orch.health_monitor.record_heartbeat
    return orch, engines, clock, sink


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_drawdown_trip_holds_reduce_only_past_the_cooldown_until_operator_clears() -> None:
    cfg = UnifiedConfig(**BOTH, global_daily_loss_limit_pct=90, global_max_drawdown_pct=15)
    orch, engines, clock, sink = _orch(cfg, spot=4000, futures=6000)
    await orch.start()
    await _settle()  # the engine tasks begin running
    try:
        await orch.monitor_once()
        engines["futures"].set_equity(Decimal(4000))  # 20% below the 10,000 peak
        await orch.monitor_once()
        assert engines["futures"].closed_all == 1
        own = orch.states.own(DAEMON)
        assert own.state is TradingState.REDUCE_ONLY
        assert own.cause.startswith("drawdown")
        assert own.source == "risk_monitor"
        clock.advance(10 * 86400)  # far past any cooldown
        await _settle()
        await orch.monitor_once()
        assert orch.states.state("spot") is TradingState.REDUCE_ONLY
        assert not orch.risk_monitor.can_open_new_trade()
        assert orch.risk_monitor.peak_portfolio_value == 10000  # never re-based on its own
        assert [e[0] for e in sink.events].count("circuit_breaker") == 1

        await orch.states.clear(DAEMON, reason="reviewed")
        await orch.monitor_once()
        assert orch.risk_monitor.can_open_new_trade()
        assert orch.risk_monitor.peak_portfolio_value == 8000  # re-based by the clear
        assert "drawdown_cleared" in sink.kinds()
    finally:
        await orch.stop()


async def test_restored_drawdown_state_latches_the_monitor_after_a_restart() -> None:
    orch, _engines, _clock, _sink = _orch(UnifiedConfig(**BOTH), spot=4000, futures=6000)
    await orch.states.escalate(DAEMON, TradingState.REDUCE_ONLY, "drawdown: 16%", "risk_monitor")
    await orch.start()
    await _settle()  # the engine tasks begin running
    try:
        await orch.monitor_once()
        assert orch.risk_monitor.drawdown_latched
        assert not orch.risk_monitor.can_open_new_trade()
    finally:
        await orch.stop()


async def test_engine_past_restart_budget_is_halted_and_its_protection_keeps_running() -> None:
    cfg = UnifiedConfig(**BOTH, engine_restart_max_attempts=0)
    orch, engines, clock, sink = _orch(cfg, spot=4000, futures=6000)
    await orch.start()
    await _settle()  # the engine tasks begin running
    try:
        engines["futures"].crash_next = True
        clock.advance(1)
        await _settle()
        await orch.monitor_once()
        assert orch.states.own("futures").state is TradingState.HALTED
        assert orch.states.own("futures").source == "supervisor"
        assert "restart budget exhausted" in orch.states.own("futures").cause
        assert orch.states.state("spot") is TradingState.ACTIVE
        calls = engines["futures"].protect_calls
        assert calls >= 1
        for _ in range(3):
            clock.advance(1)
            await _settle()
            await orch.monitor_once()
        assert engines["futures"].protect_calls >= calls + 3  # the monitor loop runs too
        assert engines["spot"].protect_calls == 0
        kinds = sink.kinds()
        assert "engine_stopped" in kinds
        assert any(e[0] == "trading_state" and e[2] == "futures" for e in sink.events)
    finally:
        await orch.stop()


async def test_no_risk_check_until_every_engine_has_read_its_account() -> None:
    orch, engines, _clock, sink = _orch(UnifiedConfig(**BOTH), spot=4000, futures=6000)
    orch.risk_monitor.peak_portfolio_value = 200_000.0  # restored from a 200k account
    for e in engines.values():
        e.ready = False  # books still hold the configured 10,000
    await orch.start()
    await _settle()  # the engine tasks begin running
    try:
        await orch.monitor_once()
        assert "circuit_breaker" not in sink.kinds()
        assert orch.risk_monitor.day is None  # fed nothing yet
        engines["spot"].set_equity(Decimal(80_000))
        engines["futures"].set_equity(Decimal(120_000))
        for e in engines.values():
            e.ready = True
        await orch.monitor_once()
        assert "circuit_breaker" not in sink.kinds()
        assert orch.states.state(DAEMON) is TradingState.ACTIVE
        assert orch.risk_monitor.day_start_value == 200_000
    finally:
        await orch.stop()


async def test_watchdog_pings_while_an_engine_or_a_halted_engines_protection_lives() -> None:
    cfg = UnifiedConfig(**BOTH, engine_restart_max_attempts=0)
    orch, engines, clock, _sink = _orch(cfg, spot=4000, futures=6000)
    pings: list[int] = []
    orch.health_monitor.watchdog = lambda: pings.append(1)
    await orch.start()
    await _settle()
    try:
        before = len(pings)
        await orch.monitor_once()
        assert len(pings) == before + 1
        engines["spot"].crash_next = True
        engines["futures"].crash_next = True
        clock.advance(1)
        await _settle()
        await orch.monitor_once()
        assert orch.halted == {"spot", "futures"}
        before = len(pings)
        await orch.monitor_once()  # both HALTED: their protection still runs
        assert len(pings) == before + 1
    finally:
        await orch.stop()


async def test_watchdog_stops_when_no_engine_and_no_protection_is_alive() -> None:
    cfg = UnifiedConfig(**BOTH, engine_restart_max_attempts=0)
    clock, sink = ManualClock(T0), MemorySink()
    engines = {n: FakeEngine(n, clock, equity=Decimal(5000)) for n in ("spot", "futures")}
    orch = Orchestrator(cfg, dict(engines), sink, clock, clock)  # no protect_once
    for e in engines.values():
        e.heartbeat = orch.health_monitor.record_heartbeat
    pings: list[int] = []
    orch.health_monitor.watchdog = lambda: pings.append(1)
    await orch.start()
    await _settle()
    try:
        engines["spot"].crash_next = True
        clock.advance(1)
        await _settle()
        await orch.monitor_once()
        before = len(pings)
        await orch.monitor_once()
        assert len(pings) == before + 1  # futures still runs
        engines["futures"].crash_next = True
        clock.advance(1)
        await _settle()
        await orch.monitor_once()
        assert orch.running_engines == []
        before = len(pings)
        for _ in range(3):
            clock.advance(1)
            await _settle()
            await orch.monitor_once()
        assert len(pings) == before
    finally:
        await orch.stop()

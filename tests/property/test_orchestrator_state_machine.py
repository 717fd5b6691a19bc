"""A RuleBasedStateMachine driving the Orchestrator through random engine crashes,
heartbeat stalls, losses and clock jumps (seed 000 supervision invariants)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from config import UnifiedConfig
from kinetic.clock import ManualClock
from kinetic.domain import EngineStatus
from kinetic.supervisor.orchestrator import Orchestrator
from tests.fakes import FakeEngine, MemorySink

T0 = 1_760_000_000.0
ENGINES = ("spot", "futures")


class OrchestratorMachine(RuleBasedStateMachine):
    """Model: which engines are enabled, crashed past budget, and when the breaker ends."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.orch: Orchestrator | None = None

    @initialize(spot=st.booleans(), futures=st.booleans(), budget=st.integers(0, 3))
    def start(self, spot: bool, futures: bool, budget: int) -> None:
        if not (spot or futures):
            spot = True
        self.cfg = UnifiedConfig(
            spot_enabled=spot,
            futures_enabled=futures,
            engine_restart_max_attempts=budget,
            engine_restart_backoff_seconds=1,
            heartbeat_warning_seconds=10,
            heartbeat_restart_seconds=30,
            global_circuit_breaker_cooldown_minutes=5,
        )
        self.sup_clock = ManualClock(T0)
        self.mkt_clock = ManualClock(T0)
        self.sink = MemorySink()
        self.engines = {
            n: FakeEngine(n, self.sup_clock, equity=Decimal(5000))
            for n in ENGINES
            if self.cfg.engine_enabled[n]
        }
        self.orch = Orchestrator(
            self.cfg, dict(self.engines), self.sink, self.sup_clock, self.mkt_clock
        )
        for e in self.engines.values():
            e.heartbeat = self.orch.health_monitor.record_heartbeat
            e.can_trade = self._guarded_can_trade(e)
            e.want_trade = True
        self.crashes = dict.fromkeys(self.engines, 0)
        self.run(self.orch.start())

    def _guarded_can_trade(self, engine: FakeEngine):  # type: ignore[no-untyped-def]
        def can_trade() -> bool:
            assert self.orch is not None
            allowed = self.orch.risk_monitor.can_open_new_trade()
            if allowed and self.orch.risk_monitor.breaker_in_force():
                engine.trades_while_blocked += 1
            return allowed

        return can_trade

    def run(self, coro) -> None:  # type: ignore[no-untyped-def]
        self.loop.run_until_complete(coro)
        self.loop.run_until_complete(self._settle())

    async def _settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    def tick(self, seconds: float) -> None:
        assert self.orch is not None
        self.sup_clock.advance(seconds)
        self.mkt_clock.advance(seconds)
        self.loop.run_until_complete(self._settle())  # engines react to the new time first
        self.run(self.orch.monitor_once())

    @rule(name=st.sampled_from(ENGINES))
    def crash(self, name: str) -> None:
        if name in self.engines:
            self.engines[name].crash_next = True
            self.tick(1)

    @rule(name=st.sampled_from(ENGINES), stalled=st.booleans())
    def stall(self, name: str, stalled: bool) -> None:
        if name in self.engines:
            self.engines[name].stalled = stalled

    @rule(seconds=st.floats(0.5, 60))
    def advance(self, seconds: float) -> None:
        self.tick(seconds)

    @rule(pct=st.floats(0, 30))
    def loss(self, pct: float) -> None:
        for e in self.engines.values():
            e.set_equity(e.equity() * Decimal(str(1 - pct / 100)))
        self.tick(1)

    @rule(jump=st.floats(-7200, 86400))
    def market_clock_jump(self, jump: float) -> None:
        self.mkt_clock.set(self.mkt_clock.time() + jump)
        self.tick(0.1)

    @invariant()
    def only_enabled_engines_run(self) -> None:
        if self.orch is None:
            return
        assert set(self.orch.running_engines) <= {n for n in ENGINES if self.cfg.engine_enabled[n]}

    @invariant()
    def allocation_never_exceeds_100(self) -> None:
        if self.orch is None:
            return
        assert self.orch.capital_allocator.total_pct() <= 100.0 + 1e-9

    @invariant()
    def no_trade_while_breaker_active(self) -> None:
        for e in getattr(self, "engines", {}).values():
            assert e.trades_while_blocked == 0

    @invariant()
    def engine_past_budget_stays_stopped(self) -> None:
        if self.orch is None:
            return
        for name, health in self.orch.health_monitor.engine_health.items():
            if health.status is EngineStatus.STOPPED:
                assert name not in self.orch.running_engines
                assert health.restart_count <= self.cfg.engine_restart_max_attempts

    @invariant()
    def other_engine_keeps_running(self) -> None:
        if self.orch is None:
            return
        hm = self.orch.health_monitor.engine_health
        for name in self.engines:
            other = "futures" if name == "spot" else "spot"
            if other in self.engines and hm[other].status is EngineStatus.STOPPED:
                # the failure of one never stops the other unless that one failed itself
                assert (
                    hm[name].status is EngineStatus.STOPPED
                    or name in self.orch.running_engines
                    or (name in self.orch._restart_due)
                )

    def teardown(self) -> None:
        if self.orch is not None:
            self.loop.run_until_complete(self.orch.stop())
        self.loop.close()


OrchestratorMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=20, deadline=None
)
TestOrchestratorMachine = OrchestratorMachine.TestCase

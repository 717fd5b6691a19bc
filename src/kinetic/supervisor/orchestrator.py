"""Orchestrator: spawn the enabled engines, supervise them, enforce global risk.

Engines run as named asyncio tasks owned here. The monitor loop (one named task)
notices crashed or stalled engines and restarts them with backoff within the restart
budget, feeds the portfolio value to the GlobalRiskMonitor, persists status, and on a
drawdown trip closes every position and holds the daemon REDUCE_ONLY until an operator
clears it. An engine past its restart budget is HALTED, not abandoned: every monitor
step runs its ``protect_once`` so its stops stay watched. No risk check runs before
every engine has read its account (``ready``): the figures must be the venue's.
``stop()`` is staged: stop new entries, let the engines finish their current step,
cancel what is left, persist, and return.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from decimal import Decimal
from typing import Any, Protocol

from config import UnifiedConfig
from kinetic.clock import Clock
from kinetic.domain import (
    ZERO,
    CapitalAllocation,
    EngineSnapshot,
    EngineStatus,
    PortfolioStatus,
    TradingState,
)
from kinetic.engines.base import BaseEngine
from kinetic.logging import get_logger
from kinetic.supervisor.allocator import CapitalAllocator
from kinetic.supervisor.health import HealthMonitor
from kinetic.supervisor.invariants import InvariantMonitor
from kinetic.supervisor.risk_monitor import BreakerTrip, GlobalRiskMonitor, RiskAction
from kinetic.supervisor.trading_states import DAEMON, TradingStates
from kinetic.tasks import cancel_and_wait

DRAWDOWN_CAUSE = "drawdown"
INVARIANT_INTERVAL_S = 5.0


class Engine(Protocol):
    name: str
    status: EngineStatus

    async def run(self) -> None: ...

    def request_stop(self) -> None: ...

    async def close_all_positions(self, reason: str) -> int: ...

    async def maybe_snapshot(self, force: bool = False) -> None: ...

    def equity(self) -> Decimal: ...

    def exposure(self) -> Decimal: ...

    def snapshot(
        self, last_heartbeat: float | None = None, restart_count: int = 0
    ) -> EngineSnapshot: ...


class StateSink(Protocol):
    async def record_event(
        self, kind: str, message: str, engine: str | None = None, data: dict[str, Any] | None = None
    ) -> None: ...

    async def save_engine_state(self, engine: str, **fields: Any) -> None: ...

    async def save_portfolio_state(self, **fields: Any) -> None: ...


class Orchestrator:
    """Manage the engines' lifecycle, health and the portfolio-wide limits."""

    def __init__(
        self,
        config: UnifiedConfig,
        engines: dict[str, Engine],
        sink: StateSink,
        supervision_clock: Clock,
        market_clock: Clock,
        *,
        allocator: CapitalAllocator | None = None,
        risk_monitor: GlobalRiskMonitor | None = None,
        health_monitor: HealthMonitor | None = None,
        states: TradingStates | None = None,
        invariants: InvariantMonitor | None = None,
    ) -> None:
        self.config = config
        self.engines = engines
        self.sink = sink
        self.clock = supervision_clock
        self.capital_allocator = allocator or CapitalAllocator(config)
        self.risk_monitor = risk_monitor or GlobalRiskMonitor(config, market_clock)
        self.health_monitor = health_monitor or HealthMonitor(config, supervision_clock)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._restart_due: dict[str, float] = {}
        self._monitor_task: asyncio.Task[None] | None = None
        self._running = False
        self._stopping = False
        self._warned: set[str] = set()
        self.states = states or TradingStates(supervision_clock, None, sink, tuple(engines))
        self.halted: set[str] = set()  # past the restart budget: protected, never traded
        self._close_all_reason = ""  # non-empty: close every position, retried each step
        self._waiting_ready: set[str] = set()
        self.invariants = invariants
        self._next_invariants_s = 0.0
        self.log = get_logger(component="orchestrator")

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Spawn every enabled engine and the monitor loop."""
        self._running = True
        for name in self.engines:
            if self.capital_allocator.is_enabled(name):
                await self._spawn_engine(name)
        self._monitor_task = asyncio.create_task(self._monitor_loop(), name="orchestrator:monitor")
        await self.sink.record_event(
            "started",
            f"orchestrator started engines {sorted(self.tasks)}",
            None,
            {"allocation": self.capital_allocator.reallocate_disabled_capital()},
        )

    async def _spawn_engine(self, name: str) -> None:
        if name not in self.health_monitor.engine_health:
            self.health_monitor.register(name)
        task = asyncio.create_task(self.engines[name].run(), name=f"engine:{name}")
        task.add_done_callback(self._on_engine_done)
        self.tasks[name] = task
        self.log.info("engine spawned", engine=name)

    def _on_engine_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # logged here so no crash goes unreported even if the monitor is gone
            self.log.error("engine task failed", task=task.get_name(), error=repr(exc))

    @property
    def running_engines(self) -> list[str]:
        return [n for n, t in self.tasks.items() if not t.done()]

    async def stop(self) -> None:
        """Staged shutdown: stop entries, drain, cancel the rest, persist."""
        if not self._running:
            return
        self._running = False
        self._stopping = True
        for engine in self.engines.values():
            engine.request_stop()
        pending = [t for t in self.tasks.values() if not t.done()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=self.config.shutdown_timeout_seconds)
            for task in still:
                self.log.warning("engine did not stop in time; cancelling", task=task.get_name())
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await cancel_and_wait(self._monitor_task)
        for name, engine in self.engines.items():
            if name in self.tasks:
                await engine.maybe_snapshot(force=True)
                self.health_monitor.mark_stopped(name)
        await self._persist()
        await self.sink.record_event("shutdown", "orchestrator stopped cleanly")
        self.log.info("orchestrator stopped")

    # ------------------------------------------------------------------ monitor
    async def _monitor_loop(self) -> None:
        while self._running:
            try:
                await self.monitor_once()
            except Exception:  # the supervisor itself must not die
                self.log.exception("monitor step failed")
            await self.clock.sleep(self.config.monitor_interval_seconds)

    async def monitor_once(self) -> None:
        """One supervision step: crashes, heartbeats, restarts, risk, persistence."""
        if self._stopping:
            return
        await self._check_tasks()
        await self._check_heartbeats()
        await self._run_due_restarts()
        await self._protect_halted()
        # before the risk and persistence steps: a database outage must not get the
        # daemon killed by the watchdog while its engines and protection still run
        self.health_monitor.pet_watchdog(self.watchdog_alive())
        await self.states.flush()
        await self._check_risk()
        await self._check_invariants()
        if self._close_all_reason:
            await self._close_all()
        await self._persist()

    async def _check_invariants(self) -> None:
        """Run the invariant monitor (at most every 5 s: it writes a journal probe)."""
        if self.invariants is None or self.clock.time() < self._next_invariants_s:
            return
        self._next_invariants_s = self.clock.time() + INVARIANT_INTERVAL_S
        ready = [e for e in self.engines.values() if isinstance(e, BaseEngine) and e.ready]
        await self.invariants.check(ready)

    async def _check_tasks(self) -> None:
        for name, task in list(self.tasks.items()):
            if not task.done() or name in self._restart_due:
                continue
            health = self.health_monitor.engine_health[name]
            if health.status is EngineStatus.STOPPED:
                continue
            exc = None if task.cancelled() else task.exception()
            error = (
                "".join(traceback.format_exception(exc)) if exc else "engine exited unexpectedly"
            )
            self.log.error("engine crashed", engine=name, error=repr(exc), traceback=error)
            self.health_monitor.record_error(name, repr(exc) if exc else error)
            await self.sink.record_event(
                "engine_crash", f"{name} crashed: {exc!r}", name, {"traceback": error[-4000:]}
            )
            await self._schedule_restart_or_stop(name)

    async def _check_heartbeats(self) -> None:
        unhealthy = set(self.health_monitor.check_health())
        for name in unhealthy - self._warned:
            self.log.warning(
                "engine heartbeat late",
                engine=name,
                age_s=round(self.health_monitor.heartbeat_age(name), 1),
            )
        self._warned = unhealthy
        for name in unhealthy:
            task = self.tasks.get(name)
            if task is None or task.done() or name in self._restart_due:
                continue
            if self.health_monitor.is_stalled(name):
                self.log.error("engine stalled; cancelling it", engine=name)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                self.health_monitor.record_error(name, "heartbeat stalled")
                await self.sink.record_event("engine_stalled", f"{name} heartbeat stalled", name)
                await self._schedule_restart_or_stop(name)

    async def _schedule_restart_or_stop(self, name: str) -> None:
        if self.health_monitor.should_restart(name):
            delay = self.health_monitor.backoff_seconds(name)
            self._restart_due[name] = self.clock.time() + delay
            self.log.warning("engine restart scheduled", engine=name, in_s=delay)
            return
        self.health_monitor.mark_stopped(name)
        self.capital_allocator.disable(name)
        self.halted.add(name)
        error = self.health_monitor.engine_health[name].last_error or "unknown error"
        await self.states.escalate(
            name, TradingState.HALTED, f"restart budget exhausted: {error}"[:500], "supervisor"
        )
        await self.sink.record_event(
            "engine_stopped",
            f"{name} exceeded its restart budget; HALTED, its stops stay watched",
            name,
            {"allocation": self.capital_allocator.reallocate_disabled_capital()},
        )
        self.log.error("engine HALTED: restart budget exhausted; protection continues",
                       engine=name)  # fmt: skip

    async def _protect_halted(self) -> None:
        """Run the protection step of every engine past its budget (its loops are gone)."""
        for name in sorted(self.halted):
            protect = getattr(self.engines[name], "protect_once", None)
            if protect is None:
                continue
            try:
                await protect()
            except Exception as exc:  # logged; tried again next step
                self.log.error("protection step of a halted engine failed", engine=name,
                               error=repr(exc))  # fmt: skip

    def watchdog_alive(self) -> bool:
        """An engine task runs, or the protection step of a halted engine does."""
        protected = any(hasattr(self.engines[n], "protect_once") for n in self.halted)
        return bool(self.running_engines) or protected

    async def _run_due_restarts(self) -> None:
        now = self.clock.time()
        for name, due in list(self._restart_due.items()):
            if now < due:
                continue
            del self._restart_due[name]
            self.health_monitor.record_restart(name)
            count = self.health_monitor.engine_health[name].restart_count
            await self.sink.record_event("engine_restart", f"{name} restart #{count}", name)
            await self._spawn_engine(name)

    def engines_ready(self) -> bool:
        """True once every supervised engine has completed a start-up (read its account)."""
        waiting = {
            n for n in self.tasks if n not in self.halted
            and not getattr(self.engines[n], "ready", True)
        }  # fmt: skip
        if waiting != self._waiting_ready and waiting:
            self.log.info("risk checks wait for engine start-up", engines=sorted(waiting))
        self._waiting_ready = waiting
        return not waiting

    async def _check_risk(self) -> None:
        await self._sync_drawdown_hold()
        if not self.engines_ready():
            return  # the books still hold configured figures, not the account's
        total = self.total_value()
        trip = self.risk_monitor.update(float(total))
        if trip is not None:
            await self._on_trip(trip)

    async def _sync_drawdown_hold(self) -> None:
        """Keep the risk monitor's drawdown latch and the daemon's trading state as one.

        A restored ``drawdown`` state latches the monitor (the hold survives restarts);
        an operator's clear of the daemon releases it, re-basing the peak at today's
        value (figures permitting), so the cleared limit does not trip again at once.
        """
        rm, own = self.risk_monitor, self.states.own(DAEMON)
        if not rm.drawdown_latched and own.cause.startswith(DRAWDOWN_CAUSE):
            rm.drawdown_latched, rm.drawdown_reason = True, own.cause
        elif rm.drawdown_latched and own.state is TradingState.ACTIVE and self.engines_ready():
            value = float(self.total_value())
            rm.release_drawdown(value)
            await self.sink.record_event(
                "drawdown_cleared", f"drawdown hold cleared; peak re-based at {value:.2f}",
                None, {"peak": value},
            )  # fmt: skip

    async def _on_trip(self, trip: BreakerTrip) -> None:
        self.log.warning("circuit breaker triggered", reason=trip.reason, action=trip.action)
        await self.sink.record_event(
            "circuit_breaker", trip.reason, None, {"action": str(trip.action), "until": trip.until}
        )
        if trip.action is RiskAction.CLOSE_ALL:
            await self.states.escalate(
                DAEMON, TradingState.REDUCE_ONLY, f"{DRAWDOWN_CAUSE}: {trip.reason}", "risk_monitor"
            )
            await self.request_close_all("global drawdown limit")

    async def request_close_all(self, reason: str) -> dict[str, int]:
        """Close every engine's positions now; retried each monitor step until all are flat."""
        self._close_all_reason = reason
        return await self._close_all()

    async def _close_all(self) -> dict[str, int]:
        reason, closed_by = self._close_all_reason or "close all", {}
        for name, engine in self.engines.items():
            try:
                closed = await engine.close_all_positions(reason)
            except Exception as exc:  # one engine's failure must not spare the others
                self.log.error("close-all failed; will retry", engine=name, error=repr(exc))
                continue
            closed_by[name] = closed
            if closed:
                await self.sink.record_event(
                    "close_all", f"{name}: closed {closed} positions ({reason})", name
                )
        still_open = [n for n, e in self.engines.items() if e.snapshot().open_positions > 0]
        if not still_open:
            self._close_all_reason = ""
        return closed_by

    # ------------------------------------------------------------------ status
    def total_value(self) -> Decimal:
        total = ZERO  # as sum(..., ZERO): the same additions in the same order
        for engine in self.engines.values():
            total += engine.equity()
        return total

    def get_allocation(self, engine: str) -> CapitalAllocation:
        total = ZERO  # ``total_value()``, without its call (every entry asks)
        for each in self.engines.values():
            total += each.equity()
        return self.capital_allocator.get_allocation(engine, total, self.engines[engine].exposure())

    def _snapshots(self) -> dict[str, EngineSnapshot]:
        out: dict[str, EngineSnapshot] = {}
        for name, engine in self.engines.items():
            health = self.health_monitor.engine_health.get(name)
            out[name] = engine.snapshot(
                health.last_heartbeat if health else None, health.restart_count if health else 0
            )
        return out

    def get_combined_status(self) -> PortfolioStatus:
        snaps = self._snapshots()
        zero = EngineSnapshot("", EngineStatus.STOPPED, ZERO, ZERO, ZERO, 0, 0, None, 0)
        spot, fut = snaps.get("spot", zero), snaps.get("futures", zero)
        start = Decimal(str(self.config.initial_capital_usd))
        total = spot.equity_usd + fut.equity_usd
        spot_pnl = spot.realized_pnl_usd + spot.unrealized_pnl_usd
        fut_pnl = fut.realized_pnl_usd + fut.unrealized_pnl_usd
        statuses = {
            n: (
                self.health_monitor.engine_health[n].status
                if n in self.health_monitor.engine_health
                else EngineStatus.STOPPED
            )
            for n in self.engines
        }
        return PortfolioStatus(
            total_value_usd=total,
            spot_value_usd=spot.equity_usd,
            futures_value_usd=fut.equity_usd,
            spot_pnl_usd=spot_pnl,
            futures_pnl_usd=fut_pnl,
            total_pnl_usd=spot_pnl + fut_pnl,
            total_pnl_pct=float((spot_pnl + fut_pnl) / start * 100) if start else 0.0,
            spot_positions=spot.open_positions,
            futures_positions=fut.open_positions,
            circuit_breaker_active=self.risk_monitor.breaker_in_force(),
            engines_status=statuses,
            engines=snaps,
        )

    async def _persist(self) -> None:
        status = self.get_combined_status()
        for name, snap in status.engines.items():
            health = self.health_monitor.engine_health.get(name)
            await self.sink.save_engine_state(
                name,
                status=str(status.engines_status[name]),
                last_heartbeat=snap.last_heartbeat,
                restart_count=snap.restart_count,
                last_error=health.last_error if health else None,
                fills=snap.fills,
                open_positions=snap.open_positions,
                equity=snap.equity_usd,
                pnl=snap.realized_pnl_usd + snap.unrealized_pnl_usd,
                allocated_pct=self.capital_allocator.allocated_pct(name),
            )
        rm = self.risk_monitor
        fields: dict[str, Any] = {
            "circuit_breaker_active": rm.breaker_in_force(),
            "circuit_breaker_until": rm.circuit_breaker_until,
            "circuit_breaker_reason": rm.breaker_reason(),
            "peak_equity": rm.peak_portfolio_value,
            "total_value": status.total_value_usd,
            "total_pnl": status.total_pnl_usd,
        }
        if rm.day is not None:  # fed at least once: figures from the account, not config
            fields |= {"day_start_equity": rm.day_start_value, "day": rm.day}
        await self.sink.save_portfolio_state(**fields)

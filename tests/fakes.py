"""Hand-written fakes for supervision tests (no mocks)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from kinetic.clock import Clock
from kinetic.domain import ZERO, EngineSnapshot, EngineStatus


class FakeEngine:
    """An engine whose behaviour a test controls: crash, stall, equity, positions.

    ``run`` loops on the given clock: each step sends a heartbeat, tries to open a
    trade through ``can_trade`` when ``want_trade`` is set, then sleeps ``interval``.
    """

    def __init__(
        self,
        name: str,
        clock: Clock,
        heartbeat: Any = None,
        interval: float = 1.0,
        equity: Decimal = Decimal(5000),
    ) -> None:
        self.name = name
        self.status = EngineStatus.STOPPED
        self.clock = clock
        self.heartbeat = heartbeat or (lambda _n: None)
        self.can_trade: Any = lambda: True
        self.interval = interval
        self._equity = equity
        self.positions = 2
        self.crash_next = False
        self.stalled = False
        self.want_trade = False
        self.trades_opened = 0
        self.trades_while_blocked = 0
        self.runs = 0
        self.steps = 0
        self.closed_all = 0
        self.op_in_flight = False
        self.ops_completed = 0
        self.op_duration_ticks = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        self._stop = asyncio.Event()
        self.status = EngineStatus.RUNNING
        try:
            while not self._stop.is_set():
                await self._step()
                sleeper = asyncio.ensure_future(self.clock.sleep(self.interval))
                stopper = asyncio.ensure_future(self._stop.wait())
                try:
                    await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for t in (sleeper, stopper):
                        t.cancel()
        finally:
            self.status = EngineStatus.STOPPED

    async def _step(self) -> None:
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError(f"{self.name} boom")
        if not self.stalled:
            self.heartbeat(self.name)
        self.steps += 1
        self.op_in_flight = True
        for _ in range(self.op_duration_ticks):
            await asyncio.sleep(0)
        self.op_in_flight = False
        self.ops_completed += 1
        if self.want_trade and self.can_trade():
            self.trades_opened += 1

    def request_stop(self) -> None:
        self._stop.set()

    async def close_all_positions(self, reason: str) -> int:
        n = self.positions
        self.positions = 0
        self.closed_all += 1
        return n

    async def maybe_snapshot(self, force: bool = False) -> None:
        return None

    def equity(self) -> Decimal:
        return self._equity

    def set_equity(self, value: Decimal) -> None:
        self._equity = value

    def exposure(self) -> Decimal:
        return ZERO

    def snapshot(
        self, last_heartbeat: float | None = None, restart_count: int = 0
    ) -> EngineSnapshot:
        return EngineSnapshot(
            self.name,
            self.status,
            self._equity,
            ZERO,
            ZERO,
            self.positions,
            0,
            last_heartbeat,
            restart_count,
        )


class MemorySink:
    """Orchestrator state sink that keeps events and states in memory."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str | None, dict[str, Any]]] = []
        self.engine_state: dict[str, dict[str, Any]] = {}
        self.portfolio_state: dict[str, Any] = {}

    async def record_event(
        self, kind: str, message: str, engine: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        self.events.append((kind, message, engine, dict(data or {})))

    async def save_engine_state(self, engine: str, **fields: Any) -> None:
        self.engine_state.setdefault(engine, {}).update(fields)

    async def save_portfolio_state(self, **fields: Any) -> None:
        self.portfolio_state.update(fields)

    def kinds(self) -> list[str]:
        return [k for k, *_ in self.events]

"""A crashing spot engine is restarted within its budget, then left stopped,
while the futures engine keeps trading (in-process daemon on SQLite)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from config import EnvConfig
from kinetic.app import Daemon
from kinetic.domain import Candle, EngineStatus
from kinetic.storage import resolve_database_url
from tests.integration.daemon.support import (
    both_filled,
    fast_config,
    fill_counts,
    heartbeats,
    query,
    wait_until,
)

RESTART_BUDGET = 2


class CrashingStrategy:
    """Delegates to the real strategy; once armed, its ``crash_on``-th call and every
    later one raise ``RuntimeError("injected")``."""

    def __init__(self, real: Any, crash_on: int = 1) -> None:
        self.real = real
        self.crash_on = crash_on
        self.armed = False
        self.calls_since_armed = 0
        self.crashes = 0

    def arm(self) -> None:
        self.calls_since_armed = 0
        self.armed = True

    def on_candle(self, candle: Candle) -> Any:
        if self.armed:
            self.calls_since_armed += 1
            if self.calls_since_armed >= self.crash_on:
                self.crashes += 1
                raise RuntimeError("injected")
        return self.real.on_candle(candle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class CrashableDaemon(Daemon):
    """The real daemon with the spot strategy wrapped right after the object graph is built."""

    fake: CrashingStrategy

    async def build(self) -> None:
        await super().build()
        assert self.orchestrator is not None
        deps = self.orchestrator.engines["spot"].d  # type: ignore[attr-defined]
        self.fake = CrashingStrategy(deps.strategy)
        deps.strategy = self.fake


async def _events(daemon: Daemon, kind: str, engine: str | None = None) -> list[tuple[Any, ...]]:
    sql = "SELECT id, engine, message, data FROM events WHERE kind = :kind ORDER BY id"
    rows = await query(daemon.db, sql, kind=kind)
    return [r for r in rows if engine is None or r[1] == engine]


async def test_spot_crash_restarts_then_stops_while_futures_trades(tmp_path: Path) -> None:
    config = fast_config(
        tmp_path / "k.db",
        engine_restart_max_attempts=RESTART_BUDGET,
        engine_restart_backoff_seconds=0,
        monitor_interval_seconds=0.05,
    )
    url = resolve_database_url(None, str(tmp_path / "k.db"))
    daemon = CrashableDaemon(config, EnvConfig(), mode="replay", database_url=url)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="test:daemon")
    try:
        await wait_until(
            lambda: fill_counts(daemon.db), both_filled, "fills from both engines", task=task
        )
        daemon.fake.arm()

        stopped = await wait_until(
            lambda: _events(daemon, "engine_stopped", "spot"),
            bool,
            "spot left stopped after its restart budget",
            task=task,
        )
        stopped_id = stopped[0][0]
        orch = daemon.orchestrator
        assert orch is not None
        assert "spot" not in orch.running_engines
        assert orch.tasks["spot"].done()
        assert orch.health_monitor.engine_health["spot"].status is EngineStatus.STOPPED
        assert "futures" in orch.running_engines
        # HALTED, not abandoned: persisted with its cause; futures trades on
        states = dict(await query(daemon.db, "SELECT scope, state FROM trading_states"))
        assert states.get("spot") == "HALTED"
        assert states.get("futures", "ACTIVE") == "ACTIVE"
        assert daemon.states is not None
        assert "restart budget exhausted" in daemon.states.own("spot").cause

        crashes = await _events(daemon, "engine_crash", "spot")
        restarts = await _events(daemon, "engine_restart", "spot")
        assert len(crashes) == RESTART_BUDGET + 1, crashes
        assert len(restarts) == RESTART_BUDGET, restarts
        assert all(r[0] < stopped_id for r in crashes + restarts)
        for crash in crashes:
            data = json.loads(crash[3]) if isinstance(crash[3], str) else crash[3]
            trace = data["traceback"]
            assert "Traceback" in trace
            assert "RuntimeError" in trace
            assert "injected" in trace
            assert "on_candle" in trace
        assert daemon.fake.crashes == RESTART_BUDGET + 1
        assert not await _events(daemon, "engine_crash", "futures")

        # futures keeps working after spot died: new fills and fresher heartbeats
        fills_then = (await fill_counts(daemon.db))["futures"]
        hb_then = (await heartbeats(daemon.db))["futures"]
        await wait_until(
            lambda: fill_counts(daemon.db),
            lambda c: c.get("futures", 0) > fills_then,
            "new futures fills after spot stopped",
            task=task,
        )
        await wait_until(
            lambda: heartbeats(daemon.db),
            lambda hb: (hb.get("futures") or 0) > (hb_then or 0),
            "a newer futures heartbeat after spot stopped",
            task=task,
        )
        spot_state = await query(
            daemon.db,
            "SELECT status, restart_count, last_error FROM engine_state WHERE engine = 'spot'",
        )
        assert spot_state[0][0] == "stopped"
        assert spot_state[0][1] == RESTART_BUDGET
        assert spot_state[0][2]
        assert "injected" in spot_state[0][2]
    finally:
        stop.set()
        await task

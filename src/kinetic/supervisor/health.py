"""HealthMonitor: heartbeats, warning/restart thresholds, a restart budget with backoff."""

from __future__ import annotations

from collections.abc import Callable

from config import UnifiedConfig
from kinetic.clock import Clock
from kinetic.domain import EngineHealth, EngineStatus


class HealthMonitor:
    """Track engine heartbeats and decide when an engine must be restarted.

    * heartbeat older than ``heartbeat_warning_seconds`` -> unhealthy (property 10)
    * older than ``heartbeat_restart_seconds``, or the engine crashed -> restart
    * at most ``engine_restart_max_attempts`` restarts, each delayed by an exponential
      backoff ``engine_restart_backoff_seconds * 2**n``; past the budget the engine
      stays stopped.
    """

    def __init__(self, config: UnifiedConfig, clock: Clock) -> None:
        self._warn_s = float(config.heartbeat_warning_seconds)
        self._restart_s = float(config.heartbeat_restart_seconds)
        self._max_restarts = config.engine_restart_max_attempts
        self._backoff_s = config.engine_restart_backoff_seconds
        self._clock = clock
        self.engine_health: dict[str, EngineHealth] = {}
        # systemd watchdog ping (kinetic.ops.systemd), wired by the composition root
        self.watchdog: Callable[[], None] | None = None

    def register(self, engine_name: str) -> None:
        self.engine_health[engine_name] = EngineHealth(
            engine_name, EngineStatus.RUNNING, self._clock.time()
        )

    def pet_watchdog(self, alive: bool) -> bool:
        """Ping the service watchdog when something still trades or protects (``alive``).

        Called from the supervisor's monitor step, so a frozen event loop or a hung
        monitor stops the pings too; systemd then restarts the daemon.
        """
        if not alive or self.watchdog is None:
            return False
        self.watchdog()
        return True

    def record_heartbeat(self, engine_name: str) -> None:
        health = self.engine_health.get(engine_name)
        if health is None:
            self.register(engine_name)
            return
        health.last_heartbeat = self._clock.time()
        if health.status is EngineStatus.RESTARTING:
            health.status = EngineStatus.RUNNING

    def heartbeat_age(self, engine_name: str) -> float:
        health = self.engine_health[engine_name]
        if health.last_heartbeat is None:
            return float("inf")
        return self._clock.time() - health.last_heartbeat

    def check_health(self) -> list[str]:
        """Return engines whose heartbeat is older than the warning threshold."""
        unhealthy: list[str] = []
        for name, health in self.engine_health.items():
            if health.status is EngineStatus.STOPPED:
                health.healthy = False
                continue
            health.healthy = self.heartbeat_age(name) <= self._warn_s
            if not health.healthy:
                unhealthy.append(name)
        return unhealthy

    def is_stalled(self, engine_name: str) -> bool:
        return self.heartbeat_age(engine_name) > self._restart_s

    def budget_left(self, engine_name: str) -> bool:
        return self.engine_health[engine_name].restart_count < self._max_restarts

    def should_restart(self, engine_name: str) -> bool:
        """True when the engine crashed or stalled and still has restart budget."""
        health = self.engine_health[engine_name]
        if health.status is EngineStatus.STOPPED:
            return False
        needs = health.status is EngineStatus.ERROR or self.is_stalled(engine_name)
        return needs and self.budget_left(engine_name)

    def backoff_seconds(self, engine_name: str) -> float:
        return float(self._backoff_s * (2 ** self.engine_health[engine_name].restart_count))

    def record_error(self, engine_name: str, error: str) -> None:
        health = self.engine_health[engine_name]
        health.status = EngineStatus.ERROR
        health.last_error = error

    def record_restart(self, engine_name: str) -> None:
        health = self.engine_health[engine_name]
        health.restart_count += 1
        health.status = EngineStatus.RESTARTING
        health.last_heartbeat = self._clock.time()

    def mark_stopped(self, engine_name: str, error: str | None = None) -> None:
        health = self.engine_health[engine_name]
        health.status = EngineStatus.STOPPED
        if error:
            health.last_error = error

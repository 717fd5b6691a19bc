"""The daemon's start-up helpers: input checks, late bindings, signals, the run id.

``kinetic.app`` keeps the ``Daemon`` (the composition root); what it checks before
anything starts and the small objects it binds once the orchestrator exists live here.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

from config import KEYED_MODES, ConfigValidationError, EnvConfig, UnifiedConfig
from kinetic.api.hosts import is_loopback
from kinetic.backtest.validated import is_experimental, validated_on
from kinetic.clock import RealClock
from kinetic.domain import CapitalAllocation
from kinetic.logging import get_logger
from kinetic.storage.recorder import DbRecorder
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.trading_states import OPERATOR, ScopeState, TradingStates

log = get_logger(component="app")


def check_run_inputs(config: UnifiedConfig, env: EnvConfig, mode: str) -> None:
    """Refuse to start ``mode`` without its keys, its live confirmation or Telegram's env."""
    if mode in KEYED_MODES:
        missing = env.missing_live_keys(config.live_key_groups())
        if missing:
            raise ConfigValidationError(
                f"{mode} mode needs API keys before any engine starts; missing: "
                + ", ".join(missing)
            )
    if mode == "live" and not config.live_trading_enabled:
        raise ConfigValidationError(
            "live mode must be confirmed with --live or live_trading_enabled: true"
        )
    missing = env.missing_telegram()
    if missing:
        raise ConfigValidationError(
            f"TELEGRAM_ENABLED=true needs {' and '.join(missing)} (see docs/telegram.md)"
        )


def check_api_exposure(config: UnifiedConfig, env: EnvConfig) -> None:
    """Refuse an API bound off loopback without a token (exit 2, one line)."""
    token = env.kinetic_api_token
    if (
        config.api_enabled
        and not is_loopback(config.api_host)
        and (token is None or not token.get_secret_value())
    ):
        raise ConfigValidationError(
            f"api_host {config.api_host} is not a loopback address and KINETIC_API_TOKEN is "
            "not set: set the token in .env, bind api_host 127.0.0.1, or api_enabled: false",
            ("api_host", "KINETIC_API_TOKEN"),
        )


def warn_if_experimental(config: UnifiedConfig, engine: str) -> None:
    """Log a warning when ``engine`` runs a strategy not validated on it (issue 15)."""
    strategy = config.spot_strategy if engine == "spot" else config.futures_strategy
    if is_experimental(strategy, engine):
        log.warning(
            "experimental strategy: its out-of-sample result on the shipped data is worse "
            "than flat or its drawdown beyond the limit (docs/strategies.md)",
            engine=engine,
            strategy=strategy,
        )


def log_engines_off(config: UnifiedConfig) -> None:
    """Say why an engine is off when no strategy is validated on it (issue 15)."""
    for engine, on in config.engine_enabled.items():
        if not on and not validated_on(engine):
            log.info(
                "engine off: no strategy passed the out-of-sample validation on it, so the "
                f"default config leaves it off (docs/strategies.md); {engine}_enabled: true "
                "runs it with an experimental strategy",
                engine=engine,
            )


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM only set the stop event; shutdown happens in ``Daemon.run``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


class AllocationRef:
    """Late binding: engines ask the orchestrator, which is built after them."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.orchestrator: Orchestrator | None = None

    def __call__(self) -> CapitalAllocation:
        assert self.orchestrator is not None
        return self.orchestrator.get_allocation(self.engine)


class HeartbeatRef:
    """Engines report heartbeats and ask about the breaker through this late binding."""

    def __init__(self) -> None:
        self.orchestrator: Orchestrator | None = None

    def __call__(self, engine: str) -> None:
        if self.orchestrator is not None:
            self.orchestrator.health_monitor.record_heartbeat(engine)

    def can_trade(self) -> bool:
        return self.orchestrator is None or self.orchestrator.risk_monitor.can_open_new_trade()

    def entries_allowed(self, engine: str, states: TradingStates) -> Callable[[], bool]:
        """The engine's risk gate: no breaker in force and its trading state allows entries."""

        def allowed() -> bool:
            return self.can_trade() and states.state(engine).allows_entries

        return allowed


def journal_probe(recorder: DbRecorder) -> Any:
    """A small write to the database: does the journal still take writes?"""

    async def probe() -> None:
        await recorder.repos.installation.put("journal_probe_ms", str(RealClock().time_ms()))

    return probe


def operator_only(saved: ScopeState) -> bool:
    """Restore filter: only the trading states an operator set."""
    return saved.source == OPERATOR


def base36(n: int) -> str:
    """``n`` in base 36 (lower case): short run ids."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"

"""The runtime risk overlay: the subset of ``UnifiedConfig`` an operator may change live.

A change is validated as a whole new ``UnifiedConfig`` (the same ranges and cross-field
rules as ``config.py``; an error names the field and the allowed range), then applied
where each value is read at decision time:

* the engines' ``d.config`` (sizes, stop and take-profit %, ATR multiplier, trailing,
  blacklist minutes: read on every decision) and ``d.risk.limits`` (max positions,
  minimum confidence);
* the orchestrator's and invariant monitor's ``config`` (the max-positions invariant);
* the global risk monitor's limits (daily loss, drawdown, cooldown).

Values captured once at start-up (futures position size band and leverage band, scan
intervals, venues, watchlists) are not in the subset. The overlay lives until the daemon
stops; put a change in the config file to keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from config import ConfigValidationError, UnifiedConfig, _format_errors
from kinetic.risk.manager import RiskLimits
from kinetic.risk.sizing import ConfidencePositionSizer

RUNTIME_RISK_FIELDS: tuple[str, ...] = (
    "global_daily_loss_limit_pct",
    "global_max_drawdown_pct",
    "global_circuit_breaker_cooldown_minutes",
    "spot_max_positions",
    "spot_min_confidence",
    "spot_position_size_pct",
    "spot_stop_loss_pct",
    "spot_take_profit_pct",
    "futures_max_positions",
    "futures_min_confidence",
    "futures_atr_stop_multiplier",
    "futures_trailing_activation_pct",
    "futures_trailing_distance_pct",
    "futures_blacklist_duration_minutes",
)


def risk_values(config: UnifiedConfig) -> dict[str, Any]:
    """The runtime-changeable fields and their current values."""
    return {name: getattr(config, name) for name in RUNTIME_RISK_FIELDS}


def overlay(base: UnifiedConfig, changes: Mapping[str, Any], source: str) -> UnifiedConfig:
    """Return ``base`` with ``changes``, validated; ``ConfigValidationError`` names the field."""
    unknown = sorted(set(changes) - set(RUNTIME_RISK_FIELDS))
    if unknown:
        raise ConfigValidationError(
            f"{', '.join(unknown)}: not changeable at run time (allowed: "
            f"{', '.join(RUNTIME_RISK_FIELDS)})",
            tuple(unknown),
        )
    if not changes:
        raise ConfigValidationError("no field given to change")
    try:
        return UnifiedConfig.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        raise _format_errors(exc, dict.fromkeys(changes, source)) from None


def apply(supervisor: Any, config: UnifiedConfig) -> None:
    """Put ``config`` in force in the orchestrator, its monitors and every engine."""
    supervisor.config = config
    invariants = getattr(supervisor, "invariants", None)
    if invariants is not None:
        invariants.config = config
    monitor = getattr(supervisor, "risk_monitor", None)
    if monitor is not None:
        monitor.apply_limits(config)
    for name, engine in supervisor.engines.items():
        deps = getattr(engine, "d", None)
        if deps is None:
            continue
        deps.config = config
        prefix = "spot" if name == "spot" else "futures"
        floor = getattr(config, f"{prefix}_min_confidence")
        deps.risk.limits = RiskLimits(getattr(config, f"{prefix}_max_positions"), floor)
        sizer = getattr(engine, "sizer", None)
        if isinstance(sizer, ConfidencePositionSizer):
            # the futures sizer gives 0 % below its own floor: kept with the risk limit's,
            # or a lowered limit would let entries through that the sizer then refuses
            sizer.min_confidence = floor

"""Backtest options and the ``UnifiedConfig`` they produce.

The config a backtest runs with is the daemon's config (file and ``KINETIC_*``
environment) overlaid, in this order, by the command-line flags (``--cash``, ``--fee``,
``--leverage``, engines, strategy, symbols), then ``--set FIELD=VALUE``, then — with
``--raw`` — the limits switched off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from config import ConfigValidationError, UnifiedConfig, _format_errors, _parse_env_value
from kinetic.marketdata.files import INTERVAL_MS

FillTiming = Literal["close", "next_open"]
Units = str  # "whole", "fractional", "exchange" or a positive step such as "0.000001"
UNIT_WORDS = ("whole", "fractional", "exchange")
AtEnd = Literal["close", "open", "keep"]
ENGINES = ("spot", "futures")

# --raw: every limit off, same code path. Values beyond the validated ranges are set on
# purpose (model_copy skips validation): a 1e12 % limit can never be reached.
NEVER = 1e12
RAW_OVERRIDES: dict[str, Any] = {
    "global_daily_loss_limit_pct": NEVER,
    "global_max_drawdown_pct": NEVER,
    "spot_max_positions": 1000,
    "futures_max_positions": 1000,
    "spot_min_confidence": 0,
    "futures_min_confidence": 0,
    "spot_stop_loss_pct": 99.9999999,  # stop at 1e-9 x entry: never reached
    "spot_take_profit_pct": NEVER,
    "futures_atr_stop_multiplier": NEVER,  # long stop at 0, short stop at +inf
    "futures_trailing_activation_pct": NEVER,
    "futures_blacklist_duration_minutes": 0,
    "futures_liquidation_guard": False,  # the stops above are "none", not levels
    # issue 15's entry rules off too: sizes as given, no edge filter, no cooldown
    "risk_based_sizing": False,
    "min_edge_cost_ratio": 0.0,
    "min_stop_atr": 0.0,
    "stop_cooldown_minutes": 0,
}
# all-in runs (the reference strategy, comparisons with other backtesters): the whole
# allocation on every entry, so the risk-based size, the edge filter and the stop-out
# cooldown (which the other backtesters do not have) are off
ALL_IN_OVERRIDES: dict[str, Any] = {
    "spot_position_size_pct": 100.0,
    "futures_position_size_min_pct": 100.0,
    "futures_position_size_max_pct": 100.0,
    "risk_based_sizing": False,
    "min_edge_cost_ratio": 0.0,
    "min_stop_atr": 0.0,
    "stop_cooldown_minutes": 0,
}


@dataclass(frozen=True)
class BacktestOptions:
    """Everything one backtest run needs besides the base config."""

    engines: tuple[str, ...] = ("spot",)
    symbols: tuple[str, ...] = ()
    data: tuple[Path, ...] = ()
    strategy: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    start_ms: int | None = None
    end_ms: int | None = None
    cash: float | None = None
    fee: float | None = None  # a rate: 0.001 = 0.1 %
    fill: FillTiming = "close"
    units: Units = "exchange"
    leverage: int | None = None
    allow_short: bool = False
    raw: bool = False
    sets: dict[str, str] = field(default_factory=dict)
    funding: Path | None = None
    all_in: bool | None = None  # None: the strategy decides (``sma_cross`` is all-in)
    skip: bool = True  # fast-forward over provably quiet bars (``--no-skip``: every bar)
    timeframe: str | None = None  # picks among a symbol's files of several timeframes
    stake: float | None = None  # fixed quantity per entry (None: sized from the margin)
    slippage_bps: float | None = None  # None: the config's (0 with ``--raw``)
    fee_fixed: float | None = None  # cash charged per fill on top of ``fee`` (sim only)
    at_end: AtEnd = "close"  # positions open after the last bar: close, open or keep


def check_options(opts: BacktestOptions) -> None:
    """Raise ``ConfigValidationError`` (one line) for inconsistent options."""
    bad = [e for e in opts.engines if e not in ENGINES]
    if bad or not opts.engines:
        raise ConfigValidationError(f"--engine: unknown {bad}; allowed: spot, futures, both")
    if opts.funding is not None and "futures" not in opts.engines:
        raise ConfigValidationError("--funding applies to the futures engine only")
    if opts.timeframe is not None and opts.timeframe not in INTERVAL_MS:
        raise ConfigValidationError(
            f"--timeframe={opts.timeframe} is invalid; allowed: {', '.join(INTERVAL_MS)}"
        )
    if opts.allow_short and "spot" in opts.engines:
        raise ConfigValidationError("--allow-short needs --engine futures (spot cannot short)")
    if opts.raw and len(opts.engines) > 1:
        raise ConfigValidationError(
            "--raw runs one engine without the allocator split; use --engine spot or futures"
        )
    if opts.cash is not None and opts.cash <= 0:
        raise ConfigValidationError(f"--cash={opts.cash:g} is invalid; allowed: > 0")
    if opts.fee is not None and not 0 <= opts.fee < 0.05:
        raise ConfigValidationError(f"--fee={opts.fee:g} is invalid; allowed: >= 0 and < 0.05")
    if opts.leverage is not None and not 1 <= opts.leverage <= 125:
        raise ConfigValidationError(f"--leverage={opts.leverage} is invalid; allowed: 1..125")
    if opts.start_ms is not None and opts.end_ms is not None and opts.start_ms >= opts.end_ms:
        raise ConfigValidationError("--from must be before --to")
    _check_frictions(opts)


def unit_step(units: Units) -> Decimal | None:
    """The entry quantity step ``--units`` names (None: the exchange's lot size)."""
    if units == "exchange":
        return None
    if units == "whole":
        return Decimal(1)
    if units == "fractional":
        return Decimal("0.00000001")
    try:
        step = Decimal(units)
    except InvalidOperation:
        step = Decimal(0)
    if not (step.is_finite() and step > 0):
        raise ConfigValidationError(
            f"--units={units} is invalid; allowed: whole, fractional, exchange or a step > 0"
        )
    return step


def _check_frictions(opts: BacktestOptions) -> None:
    unit_step(opts.units)
    if opts.stake is not None and not (opts.stake > 0 and math.isfinite(opts.stake)):
        raise ConfigValidationError(f"--stake={opts.stake:g} is invalid; allowed: > 0")
    if opts.slippage_bps is not None and not 0 <= opts.slippage_bps <= 1000:
        raise ConfigValidationError(
            f"--slippage-bps={opts.slippage_bps:g} is invalid; allowed: 0..1000"
        )
    if opts.fee_fixed is not None and not 0 <= opts.fee_fixed < 1e9:
        raise ConfigValidationError(f"--fee-fixed={opts.fee_fixed:g} is invalid; allowed: >= 0")


def _flag_overrides(opts: BacktestOptions, all_in: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        # the backtest keeps its own per-bar equity curve; engine snapshots are not needed
        "equity_snapshot_interval_seconds": 10**9,
        "spot_enabled": "spot" in opts.engines,
        "futures_enabled": "futures" in opts.engines,
    }
    if opts.symbols:
        out["spot_watchlist"] = list(opts.symbols)
        out["futures_watchlist"] = list(opts.symbols)
    if opts.strategy:
        out["spot_strategy"] = opts.strategy
        out["futures_strategy"] = opts.strategy
    if opts.cash is not None:
        out["initial_capital_usd"] = opts.cash
    if opts.fee is not None:
        pct = opts.fee * 100
        out |= {
            "taker_fee_pct": pct,
            "maker_fee_pct": pct,
            "futures_taker_fee_pct": pct,
            "futures_maker_fee_pct": pct,
        }
    if opts.slippage_bps is not None:
        out["slippage_bps"] = opts.slippage_bps
    if opts.leverage is not None:
        out["futures_leverage_min"] = opts.leverage
        out["futures_leverage_max"] = opts.leverage
    if all_in:
        out |= ALL_IN_OVERRIDES
    return out


def parse_sets(items: list[str]) -> dict[str, str]:
    """Parse ``FIELD=VALUE`` strings; a malformed item is a ``ConfigValidationError``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigValidationError(f"--set {item!r}: expected FIELD=VALUE")
        out[key.strip()] = value.strip()
    return out


def backtest_config(base: UnifiedConfig, opts: BacktestOptions, all_in: bool) -> UnifiedConfig:
    """Return the config for this run (validated, then ``--raw`` applied)."""
    check_options(opts)
    flags = _flag_overrides(opts, all_in)
    sets = {
        k: _parse_env_value(k, v) if k in UnifiedConfig.model_fields else v
        for k, v in opts.sets.items()
    }
    source = dict.fromkeys(flags, "command line") | dict.fromkeys(sets, "--set")
    try:
        config = UnifiedConfig.model_validate({**base.model_dump(), **flags, **sets})
    except ValidationError as exc:
        raise _format_errors(exc, source) from None
    if opts.raw:
        # frictionless apart from the fee given: no slippage unless asked for
        asked = opts.slippage_bps is not None or "slippage_bps" in opts.sets
        config = config.model_copy(update=RAW_OVERRIDES | ({} if asked else {"slippage_bps": 0.0}))
    return config

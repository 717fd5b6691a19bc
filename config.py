"""Kinetic configuration: every tunable, with its default (seed 000 §1).

Overlays, later wins: defaults -> optional YAML file (``--config PATH`` or
``KINETIC_CONFIG``) -> environment variables ``KINETIC_<FIELD>``.
Secrets and deployment settings live in ``.env`` and are read into ``EnvConfig``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

Mode = Literal["replay", "paper", "live", "dry_run", "validate_only"]
# modes that sign requests with the operator's keys (dry_run sends no private call)
KEYED_MODES = ("live", "validate_only")
VenueName = Literal["binance", "kraken", "sim"]
ENV_PREFIX = "KINETIC_"
# KINETIC_* variables that are not config fields (the file path, test-suite switches)
RESERVED_ENV = frozenset(
    {"KINETIC_CONFIG", "KINETIC_SKIP_PG", "KINETIC_API_TOKEN", "KINETIC_MASTER_PASSWORD_FILE"}
)


class ConfigValidationError(ValueError):
    """A configuration value is missing, malformed or out of its allowed range."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class UnifiedConfig(BaseModel):
    """Master configuration for all trading engines."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # Global settings
    global_daily_loss_limit_pct: float = Field(5.0, ge=0.0, le=100.0)
    global_max_drawdown_pct: float = Field(15.0, ge=0.0, le=100.0)
    global_circuit_breaker_cooldown_minutes: int = Field(60, gt=0)

    # Spot engine. Off by default: no strategy passed the out-of-sample validation on spot
    # (issue 15, docs/strategies.md "Validation"); the default config enables only
    # validated strategies. true runs it with spot_strategy (logged as experimental).
    spot_enabled: bool = False
    spot_capital_pct: float = Field(40.0, ge=0.0, le=100.0)
    spot_max_positions: int = Field(5, ge=0, le=1000)
    spot_position_size_pct: float = Field(90.0, gt=0.0, le=100.0)
    spot_stop_loss_pct: float = Field(11.0, gt=0.0, lt=100.0)
    spot_take_profit_pct: float = Field(12.0, gt=0.0, le=1000.0)
    spot_watchlist: list[str] = Field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"], min_length=1
    )
    spot_min_confidence: int = Field(80, ge=0, le=100)
    spot_scan_interval_seconds: int = Field(60, gt=0)
    # Exchange-side spot stop for every position (Binance STOP_LOSS_LIMIT with its limit
    # spot_stop_limit_offset_pct below the trigger; Kraken stop-loss; the simulator
    # models the spot_venue's kind); the candle check stays as the fallback.
    spot_exchange_stop_enabled: bool = True
    spot_stop_limit_offset_pct: float = Field(0.5, gt=0.0, le=20.0)

    # Futures engine
    futures_enabled: bool = True
    futures_capital_pct: float = Field(60.0, ge=0.0, le=100.0)
    futures_max_positions: int = Field(3, ge=0, le=1000)
    futures_position_size_min_pct: float = Field(5.0, gt=0.0, le=100.0)
    futures_position_size_max_pct: float = Field(15.0, gt=0.0, le=100.0)
    futures_leverage_min: int = Field(2, ge=1, le=125)
    futures_leverage_max: int = Field(10, ge=1, le=125)
    futures_regime_adx_trending: float = Field(25.0, gt=0.0, le=100.0)
    futures_regime_adx_sideways: float = Field(15.0, ge=0.0, le=100.0)
    futures_atr_stop_multiplier: float = Field(2.5, gt=0.0, le=50.0)
    futures_trailing_activation_pct: float = Field(7.0, gt=0.0, le=100.0)
    futures_watchlist: list[str] = Field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"],
        min_length=1,
    )
    futures_min_confidence: int = Field(65, ge=0, le=100)
    futures_scan_interval_seconds: int = Field(30, gt=0)
    futures_blacklist_duration_minutes: int = Field(60, ge=0)

    # Health monitoring
    heartbeat_warning_seconds: int = Field(60, gt=0)
    heartbeat_restart_seconds: int = Field(300, gt=0)
    engine_restart_max_attempts: int = Field(3, ge=0, le=100)
    engine_restart_backoff_seconds: float = Field(1.0, ge=0.0, le=3600.0)
    monitor_interval_seconds: float = Field(1.0, gt=0.0, le=3600.0)

    # Strategy selection and timing
    spot_strategy: str = "spot_trend"
    futures_strategy: str = "futures_regime"
    timeframe: Literal["1m", "5m", "15m", "1h"] = "5m"
    futures_trailing_distance_pct: float = Field(4.0, gt=0.0, lt=100.0)

    # Venues, fees and simulation
    spot_venue: VenueName = "binance"
    futures_venue: VenueName = "binance"
    initial_capital_usd: float = Field(10_000.0, gt=0.0)
    taker_fee_pct: float = Field(0.1, ge=0.0, le=5.0)
    maker_fee_pct: float = Field(0.1, ge=0.0, le=5.0)
    futures_taker_fee_pct: float = Field(0.05, ge=0.0, le=5.0)
    futures_maker_fee_pct: float = Field(0.02, ge=0.0, le=5.0)
    slippage_bps: float = Field(2.0, ge=0.0, le=1000.0)

    # Replay mode
    replay_data_dir: str = "data/replay"
    replay_speed: float = Field(1200.0, gt=0.0, le=1_000_000_000.0)
    replay_warmup_candles: int = Field(500, ge=0, le=100_000)

    # Venue endpoints (paper/live): overrides by key, e.g. {"binance_spot_rest":
    # "http://127.0.0.1:8080"}; keys are listed in kinetic.venues.factory.DEFAULT_URLS.
    venue_urls: dict[str, str] = Field(default_factory=dict)
    venue_state_dir: str = "data/state"  # Kraken nonce high-water marks
    # paper/live: every closed candle received is appended to
    # <dir>/<spot|futures>/<SYMBOL>_<timeframe>.csv (replay/backtest format); "" = off
    candle_record_dir: str = "data/recorded"
    paper_warmup_candles: int = Field(500, ge=1, le=1000)

    # Persistence, lifecycle, safety
    sqlite_path: str = "data/kinetic.db"
    equity_snapshot_interval_seconds: int = Field(300, gt=0)
    shutdown_timeout_seconds: float = Field(8.0, gt=0.0, le=60.0)
    stale_tolerance_seconds: int = Field(120, gt=0)
    live_trading_enabled: bool = False
    # Start-up takeover: what to do with a venue position the journal does not know (or
    # holds smaller): adopt (protect and manage it), close (reduce-only at market) or
    # refuse (stop the start with a report, exit 2). takeover_stop_pct places the stop of
    # a taken-over position whose levels are unknown when the candles give no ATR.
    takeover_policy: Literal["adopt", "close", "refuse"] = "adopt"
    takeover_stop_pct: float = Field(2.0, gt=0.0, lt=100.0)
    # Hot standby (docs/deployment.md): with primary/standby, two daemons share one
    # PostgreSQL database and only the holder of its advisory lock trades; the other
    # waits, trying every ha_poll_seconds; the holder checks its lock every
    # ha_check_seconds and on losing it goes REDUCE_ONLY and exits 1.
    ha_role: Literal["solo", "primary", "standby"] = "solo"
    ha_poll_seconds: float = Field(1.0, ge=0.1, le=60.0)
    ha_check_seconds: float = Field(1.0, ge=0.1, le=30.0)
    # Drift: books vs venue (cash, positions, open orders) every interval; 0 = off.
    # A difference seen on two checks in a row is drift; in live mode with
    # kill_switch_on_drift it moves the engine to REDUCE_ONLY until an operator clears it.
    drift_check_interval_seconds: int = Field(60, ge=0, le=86_400)
    drift_cash_tolerance_pct: float = Field(1.0, ge=0.0, le=100.0)
    kill_switch_on_drift: bool = True
    # Live futures: apply the funding payments the venue booked (Binance USD-M income
    # history) to the books this often, from a checkpoint kept in the database; 0 = off.
    funding_sync_interval_seconds: int = Field(300, ge=0, le=86_400)
    # Live: arm the venues' cancel-all-after timer (Binance USD-M countdownCancelAll,
    # Kraken CancelAllOrdersAfter / cancelallordersafter) with this timeout, refreshed every
    # third of it; 0 = off (the default). The timers cancel EVERY order, the protective
    # stops included: armed, a daemon that dies leaves its positions without stops once
    # the timer fires. Kinetic's entries are market orders, so the timer guards nothing
    # else; arm it only if you accept that trade-off.
    dead_man_switch_seconds: int = Field(0, ge=0, le=86_400)
    # Invariant monitor: a futures engine's reserved margin above this share of its
    # equity is a violation (REDUCE_ONLY until an operator clears it)
    invariant_max_margin_pct: float = Field(95.0, gt=0.0, le=100.0)
    # Protection (futures): a position without a resting stop for this long is closed
    # at market (event "unprotected"); a mark this close (% of the mark) to the venue's
    # liquidation price raises a "near_liquidation" event
    protection_grace_seconds: float = Field(10.0, gt=0.0, le=3600.0)
    near_liquidation_pct: float = Field(5.0, gt=0.0, le=100.0)
    # refuse a futures entry whose stop lies beyond its estimated liquidation price
    futures_liquidation_guard: bool = True
    # Telegram alerts and commands (kinetic.notify). Switched on, keyed and addressed in
    # .env (TELEGRAM_ENABLED, TELEGRAM_TOKEN, TELEGRAM_CHAT_ID); these are the tunables.
    # Alerts wait in a bounded queue (the oldest dropped when full) and go out batched, at
    # most one message per chat every telegram_min_send_interval_seconds.
    telegram_api_url: str = "https://api.telegram.org"
    telegram_alert_queue_size: int = Field(500, ge=10, le=100_000)
    telegram_min_send_interval_seconds: float = Field(3.0, ge=0.0, le=3600.0)
    telegram_poll_timeout_seconds: int = Field(25, ge=1, le=50)
    telegram_fill_alerts: bool = True
    # Cost-aware entries and risk-based sizing (issue 15; docs/strategies.md "Entry plan").
    # Size each entry so the loss at its stop (with fees and slippage) is
    # risk_per_trade_min_pct (at the engine's min confidence) .. risk_per_trade_pct (at
    # confidence 100) of the engine's equity; false: the older fixed-fraction sizes.
    risk_based_sizing: bool = True
    risk_per_trade_pct: float = Field(1.25, gt=0.0, le=100.0)
    risk_per_trade_min_pct: float = Field(0.5, gt=0.0, le=100.0)
    # a stop closer than min_stop_atr x ATR or than the round-trip cost is widened or
    # refused (the strategy chooses)
    min_stop_atr: float = Field(4.5, ge=0.0, le=50.0)
    # refuse an entry whose expected move is below this multiple of its round-trip cost
    min_edge_cost_ratio: float = Field(2.0, ge=0.0, le=100.0)
    # expected holding time, for the expected funding in a futures entry's cost
    expected_holding_hours: float = Field(8.0, ge=0.0, le=10_000.0)
    futures_expected_funding_rate_pct: float = Field(0.01, ge=0.0, le=5.0)  # per 8 h
    # a futures entry's expected move (it has no take-profit): ATR x this
    futures_target_atr_multiplier: float = Field(3.0, gt=0.0, le=100.0)
    # per-symbol cooldown after a stop-out, both engines (0 = off)
    stop_cooldown_minutes: int = Field(90, ge=0, le=100_000)
    # strategy parameters by strategy name, as backtest --param takes them, e.g.
    # {"spot_trend": {"fast": 20, "slow": 50}}; checked when the engine is built
    strategy_params: dict[str, dict[str, str | int | float | bool]] = Field(default_factory=dict)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Control plane (REST API, docs/api.md), served by the daemon. Bound off loopback it
    # needs KINETIC_API_TOKEN in .env (the daemon refuses to start without one);
    # api_port 0 picks a free port; api_read_only answers every mutation with 403.
    api_enabled: bool = True
    api_host: str = Field("127.0.0.1", min_length=1, max_length=255)
    api_port: int = Field(8080, ge=0, le=65535)
    api_read_only: bool = False
    # Encrypted secrets (`main.py secrets`): API keys etc. under a master password;
    # .env and environment variables still win, by whole key pairs. Absent = not used.
    secrets_file: str = "data/secrets.enc"

    @model_validator(mode="after")
    def _cross_field_rules(self) -> UnifiedConfig:
        problems: list[tuple[str, str]] = []
        total = self.spot_capital_pct + self.futures_capital_pct
        if total > 100.0:
            problems.append(
                (
                    "spot_capital_pct+futures_capital_pct",
                    f"spot_capital_pct ({self.spot_capital_pct:g}) + futures_capital_pct "
                    f"({self.futures_capital_pct:g}) = {total:g}; allowed: sum <= 100",
                )
            )
        if self.futures_leverage_min > self.futures_leverage_max:
            problems.append(
                (
                    "futures_leverage_min",
                    f"futures_leverage_min ({self.futures_leverage_min}) must be <= "
                    f"futures_leverage_max ({self.futures_leverage_max})",
                )
            )
        if self.futures_position_size_min_pct > self.futures_position_size_max_pct:
            problems.append(
                (
                    "futures_position_size_min_pct",
                    f"futures_position_size_min_pct ({self.futures_position_size_min_pct:g}) "
                    f"must be <= futures_position_size_max_pct "
                    f"({self.futures_position_size_max_pct:g})",
                )
            )
        if self.risk_per_trade_min_pct > self.risk_per_trade_pct:
            problems.append(
                (
                    "risk_per_trade_min_pct",
                    f"risk_per_trade_min_pct ({self.risk_per_trade_min_pct:g}) must be <= "
                    f"risk_per_trade_pct ({self.risk_per_trade_pct:g})",
                )
            )
        if self.futures_regime_adx_sideways >= self.futures_regime_adx_trending:
            problems.append(
                (
                    "futures_regime_adx_sideways",
                    f"futures_regime_adx_sideways ({self.futures_regime_adx_sideways:g}) must be "
                    f"< futures_regime_adx_trending ({self.futures_regime_adx_trending:g})",
                )
            )
        if self.heartbeat_warning_seconds >= self.heartbeat_restart_seconds:
            problems.append(
                (
                    "heartbeat_warning_seconds",
                    f"heartbeat_warning_seconds ({self.heartbeat_warning_seconds}) must be "
                    f"< heartbeat_restart_seconds ({self.heartbeat_restart_seconds})",
                )
            )
        if problems:
            raise ValueError(" ; ".join(msg for _, msg in problems))
        return self

    @property
    def engine_enabled(self) -> dict[str, bool]:
        return {"spot": self.spot_enabled, "futures": self.futures_enabled}

    def live_key_groups(self) -> set[str]:
        """The credential groups the enabled engines' venues need in live mode."""
        groups: set[str] = set()
        if self.spot_enabled and self.spot_venue != "sim":
            groups.add(self.spot_venue)
        if self.futures_enabled and self.futures_venue != "sim":
            groups.add("kraken_futures" if self.futures_venue == "kraken" else self.futures_venue)
        return groups


class EnvConfig(BaseModel):
    """Secrets and deployment settings, read from ``.env`` and the process environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "replay"
    binance_api_key: SecretStr | None = None
    binance_api_secret: SecretStr | None = None
    binance_testnet: bool = True
    kraken_api_key: SecretStr | None = None
    kraken_api_secret: SecretStr | None = None
    kraken_futures_api_key: SecretStr | None = None
    kraken_futures_api_secret: SecretStr | None = None
    spot_enabled: bool | None = None
    futures_enabled: bool | None = None
    database_url: SecretStr | None = None
    telegram_enabled: bool = False
    telegram_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    kinetic_api_token: SecretStr | None = None  # the REST API's bearer token

    def secrets(self) -> list[str]:
        """Every secret value set, for the log redaction processor."""
        out: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                out.append(value.get_secret_value())
        return out

    @field_validator("telegram_chat_id")
    @classmethod
    def _chat_ids_are_integers(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_chat_ids(value)
        return value

    def telegram_chat_ids(self) -> tuple[int, ...]:
        """The chat ids Telegram alerts go to and commands are answered from.

        ``TELEGRAM_CHAT_ID`` holds one id or several, comma-separated.
        """
        return _parse_chat_ids(self.telegram_chat_id or "")

    def missing_telegram(self) -> list[str]:
        """With ``TELEGRAM_ENABLED``, the variables still needed (empty when complete)."""
        if not self.telegram_enabled:
            return []
        missing = (
            []
            if self.telegram_token and self.telegram_token.get_secret_value()
            else ["TELEGRAM_TOKEN"]
        )
        return missing if self.telegram_chat_ids() else [*missing, "TELEGRAM_CHAT_ID"]

    def missing_live_keys(self, venues: set[str]) -> list[str]:
        """Return the names of the keys live trading on ``venues`` needs but lacks.

        Venue names: ``binance`` (spot and USD-M share keys), ``kraken`` (spot) and
        ``kraken_futures``.
        """
        needed = {
            "binance": ["binance_api_key", "binance_api_secret"],
            "kraken": ["kraken_api_key", "kraken_api_secret"],
            "kraken_futures": ["kraken_futures_api_key", "kraken_futures_api_secret"],
        }
        missing: list[str] = []
        for venue in sorted(venues):
            for key in needed.get(venue, []):
                value = getattr(self, key)
                if value is None or not value.get_secret_value():
                    missing.append(key.upper())
        return missing


def _parse_chat_ids(text: str) -> tuple[int, ...]:
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            ids.append(int(part))
        except ValueError:
            raise ValueError(
                f"chat ids are integers, comma-separated (e.g. 123456789,-1001234567890); "
                f"got {part!r}"
            ) from None
    return tuple(ids)


# --------------------------------------------------------------------------- loading


def _allowed_range(field: str) -> str:
    info = UnifiedConfig.model_fields.get(field)
    if info is None:
        return ""
    lo = hi = None
    lo_op, hi_op = ">=", "<="
    for meta in info.metadata:
        for attr, op in (("ge", ">="), ("gt", ">")):
            if getattr(meta, attr, None) is not None:
                lo, lo_op = getattr(meta, attr), op
        for attr, op in (("le", "<="), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                hi, hi_op = getattr(meta, attr), op
    if lo is not None and hi is not None:
        return f"allowed: {lo_op} {lo:g} and {hi_op} {hi:g}"
    if lo is not None:
        return f"allowed: {lo_op} {lo:g}"
    if hi is not None:
        return f"allowed: {hi_op} {hi:g}"
    return ""


def _format_errors(exc: ValidationError, source: Mapping[str, str]) -> ConfigValidationError:
    parts: list[str] = []
    fields: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if not loc:
            # cross-field rules: the message already names fields, values and the rule
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            parts.append(msg)
            fields.extend(f for f in UnifiedConfig.model_fields if f in msg)
            continue
        name = loc[0]
        fields.append(name)
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field '{name}' (from {source.get(name, 'config')})")
            continue
        value = err.get("input")
        rng = _allowed_range(name)
        where = source.get(name, "config")
        detail = str(err.get("msg", "invalid"))
        text = f"{'.'.join(loc)}={value!r} (from {where}) is invalid: {detail}"
        parts.append(f"{text}; {rng}" if rng else text)
    return ConfigValidationError("invalid configuration: " + " | ".join(parts), tuple(fields))


def _parse_env_value(field: str, raw: str) -> Any:
    info = UnifiedConfig.model_fields[field]
    annotation = str(info.annotation)
    if annotation.startswith("dict"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw  # pydantic then names the field and says a mapping is expected
    if "list" in annotation:
        text = raw.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return raw
        return [s.strip() for s in text.split(",") if s.strip()]
    return raw


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Pick ``KINETIC_<FIELD>`` variables; unknown ones are reported as unknown fields."""
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key in RESERVED_ENV or key.startswith("KINETIC_TEST_"):
            continue
        field = key[len(ENV_PREFIX) :].lower()
        out[field] = _parse_env_value(field, raw) if field in UnifiedConfig.model_fields else raw
    return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    warn: Any = None,
) -> UnifiedConfig:
    """Build the ``UnifiedConfig`` from defaults, an optional YAML file and the environment.

    ``warn`` is called with a message when the named file does not exist.
    """
    environ = os.environ if environ is None else environ
    path = path or environ.get("KINETIC_CONFIG") or None
    data: dict[str, Any] = {}
    source: dict[str, str] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            if warn is not None:
                warn(f"config file {p} not found; using defaults")
        else:
            try:
                loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                detail = " ".join(str(exc).split())  # one line: PyYAML's message spans several
                msg = f"config file {p} is not valid YAML: {detail}"
                raise ConfigValidationError(msg) from None
            if loaded is not None and not isinstance(loaded, dict):
                raise ConfigValidationError(f"config file {p} must hold a mapping of fields")
            data.update(loaded or {})
            source.update({k: str(p) for k in data})
    overrides = env_overrides(environ)
    data.update(overrides)
    source.update({k: f"{ENV_PREFIX}{k.upper()}" for k in overrides})
    try:
        return UnifiedConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_errors(exc, source) from None


def load_env(
    env_file: str | os.PathLike[str] | None = ".env",
    environ: Mapping[str, str] | None = None,
    *,
    required: bool = False,
) -> EnvConfig:
    """Read ``EnvConfig`` from ``.env`` (if present) overlaid by the process environment.

    With ``required`` (a file named on the command line) a missing ``env_file`` is a
    ``ConfigValidationError``; the default ``.env`` may be absent.
    """
    environ = os.environ if environ is None else environ
    if required and env_file is not None and not Path(env_file).exists():
        raise ConfigValidationError(f"--env-file {env_file}: no such file")
    values: dict[str, Any] = {}
    if env_file is not None and Path(env_file).exists():
        values.update({k.lower(): v for k, v in dotenv_values(env_file).items() if v is not None})
    for name in EnvConfig.model_fields:
        if name.upper() in environ:
            values[name] = environ[name.upper()]
    values = {k: v for k, v in values.items() if k in EnvConfig.model_fields and v != ""}
    try:
        return EnvConfig.model_validate(values)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err.get("loc", ()))
            # never echo the input: it may be a secret
            msgs.append(f"{name.upper()}: {err.get('msg')}")
        raise ConfigValidationError("invalid environment: " + " | ".join(msgs)) from None

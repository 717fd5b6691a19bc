"""Seed 000 correctness properties 1-11, each a Hypothesis test (>= 100 examples).

Each test names its property and the requirements it validates.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from config import ConfigValidationError, UnifiedConfig, load_config
from kinetic.clock import ManualClock
from kinetic.domain import Direction, Signal
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.supervisor.allocator import CapitalAllocator
from kinetic.supervisor.health import HealthMonitor
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.risk_monitor import GlobalRiskMonitor, RiskAction
from tests.fakes import FakeEngine, MemorySink

# seed 000 runs both engines; the default config leaves spot off (issue 15: no spot
# strategy passed the out-of-sample validation)
BOTH = {"spot_enabled": True}

EXAMPLES = settings(max_examples=100)
T0 = 1_760_000_000.0  # 2025-10-09 UTC
pct = st.floats(min_value=0, max_value=100, allow_nan=False)


def _orchestrator(
    cfg: UnifiedConfig, clock: ManualClock
) -> tuple[Orchestrator, dict[str, FakeEngine]]:
    engines: dict[str, FakeEngine] = {}
    sink = MemorySink()
    for name in ("spot", "futures"):
        if cfg.engine_enabled[name]:
            engines[name] = FakeEngine(name, clock)
    orch = Orchestrator(cfg, dict(engines), sink, clock, clock)
    for e in engines.values():
        e.heartbeat = orch.health_monitor.record_heartbeat
        e.can_trade = orch.risk_monitor.can_open_new_trade
    return orch, engines


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# ---------------------------------------------------------------- property 1
@EXAMPLES
@given(spot=st.booleans(), futures=st.booleans())
def test_property_1_orchestrator_spawns_exactly_the_enabled_engines(
    spot: bool, futures: bool
) -> None:
    """Property 1: engine spawning based on configuration. Validates 1.1, 1.3."""
    if not (spot or futures):
        return
    cfg = UnifiedConfig(spot_enabled=spot, futures_enabled=futures)

    async def scenario() -> set[str]:
        clock = ManualClock(T0)
        orch, _ = _orchestrator(cfg, clock)
        await orch.start()
        await _settle()
        running = set(orch.running_engines)
        await orch.stop()
        return running

    expected = {n for n, on in (("spot", spot), ("futures", futures)) if on}
    assert asyncio.run(scenario()) == expected


# ---------------------------------------------------------------- property 2
FIELD_VALUES: dict[str, Any] = {
    "global_daily_loss_limit_pct": pct,
    "global_max_drawdown_pct": pct,
    "global_circuit_breaker_cooldown_minutes": st.integers(1, 10_000),
    "spot_max_positions": st.integers(0, 1000),
    "spot_position_size_pct": st.floats(0.01, 100),
    "spot_stop_loss_pct": st.floats(0.01, 100, exclude_max=True),  # a 100 % stop is refused
    "spot_take_profit_pct": st.floats(0.01, 1000),
    "spot_min_confidence": st.integers(0, 100),
    "spot_scan_interval_seconds": st.integers(1, 86_400),
    "spot_watchlist": st.lists(st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT"]), min_size=1),
    "futures_max_positions": st.integers(0, 1000),
    "futures_atr_stop_multiplier": st.floats(0.1, 50),
    "futures_trailing_activation_pct": st.floats(0.01, 100),
    "futures_min_confidence": st.integers(0, 100),
    "futures_scan_interval_seconds": st.integers(1, 86_400),
    "futures_blacklist_duration_minutes": st.integers(0, 10_000),
    "engine_restart_max_attempts": st.integers(0, 100),
}


@EXAMPLES
@given(values=st.fixed_dictionaries({}, optional=FIELD_VALUES))
def test_property_2_config_loads_every_parameter_with_type_and_value(
    values: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Property 2: configuration loading completeness. Validates 2.1, 2.2."""
    path = Path(tmp_path_factory.mktemp("cfg")) / "k.yaml"
    path.write_text(yaml.safe_dump(values))
    cfg = load_config(path, environ={})
    default = UnifiedConfig()
    for name, info in UnifiedConfig.model_fields.items():
        got = getattr(cfg, name)
        want = values.get(name, getattr(default, name))
        assert got == want, name
        assert isinstance(got, type(getattr(default, name))) or info.annotation is not None


# ---------------------------------------------------------------- property 3
@EXAMPLES
@given(field=st.sampled_from(sorted(UnifiedConfig.model_fields)))
def test_property_3_missing_value_raises_error_naming_the_field(
    field: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Property 3: missing config validation. Validates 2.4, 3.4.

    A field present in the file without a value (``field:``) is missing; the error names it.
    """
    path = Path(tmp_path_factory.mktemp("cfg")) / "k.yaml"
    path.write_text(f"{field}:\n")
    if UnifiedConfig.model_fields[field].annotation is not None and "None" in str(
        UnifiedConfig.model_fields[field].annotation
    ):
        return  # optional fields accept an empty value by design
    with pytest.raises(ConfigValidationError) as err:
        load_config(path, environ={})
    assert field in str(err.value)
    assert field in err.value.fields


# ---------------------------------------------------------------- property 4
@EXAMPLES
@given(
    victim=st.sampled_from(["spot", "futures"]),
    crash_after=st.integers(0, 5),
    steps=st.integers(1, 8),
)
def test_property_4_one_engine_crash_never_interrupts_the_other(
    victim: str, crash_after: int, steps: int
) -> None:
    """Property 4: engine fault isolation. Validates 4.2, 4.3."""
    other = "futures" if victim == "spot" else "spot"

    async def scenario() -> tuple[int, int, bool]:
        clock = ManualClock(T0)
        orch, engines = _orchestrator(UnifiedConfig(**BOTH), clock)
        await orch.start()
        await _settle()
        for i in range(crash_after + steps):
            if i == crash_after:
                engines[victim].crash_next = True
            clock.advance(1.0)
            await _settle()
            await orch.monitor_once()
        before = engines[other].steps
        clock.advance(1.0)
        await _settle()
        after = engines[other].steps
        other_running = other in orch.running_engines
        await orch.stop()
        return before, after, other_running

    before, after, other_running = asyncio.run(scenario())
    assert other_running
    assert after > before


# ---------------------------------------------------------------- property 5
@EXAMPLES
@given(spot=pct, futures=pct)
def test_property_5_allocation_over_100_percent_is_refused(spot: float, futures: float) -> None:
    """Property 5: capital allocation validation. Validates 7.2."""
    env = {"KINETIC_SPOT_CAPITAL_PCT": repr(spot), "KINETIC_FUTURES_CAPITAL_PCT": repr(futures)}
    if spot + futures > 100:
        with pytest.raises(ConfigValidationError) as err:
            load_config(environ=env)
        assert "spot_capital_pct" in str(err.value)
        assert "futures_capital_pct" in str(err.value)
    else:
        cfg = load_config(environ=env)
        assert CapitalAllocator(cfg).total_pct() <= 100


# ---------------------------------------------------------------- property 6
@EXAMPLES
@given(spot=st.integers(0, 100), total=st.decimals(0, 10**9, places=2))
def test_property_6_each_engine_receives_exactly_its_percentage(spot: int, total: Decimal) -> None:
    """Property 6: capital allocation correctness. Validates 7.1, 7.4."""
    futures = 100 - spot
    cfg = UnifiedConfig(**BOTH, spot_capital_pct=spot, futures_capital_pct=futures)
    alloc = CapitalAllocator(cfg)
    a_spot = alloc.get_allocation("spot", total)
    a_fut = alloc.get_allocation("futures", total)
    assert a_spot.allocated_usd == total * Decimal(str(float(spot))) / 100
    assert a_fut.allocated_usd == total * Decimal(str(float(futures))) / 100
    assert a_spot.allocated_usd + a_fut.allocated_usd <= total


# ---------------------------------------------------------------- property 7
@EXAMPLES
@given(
    disabled=st.sampled_from(["spot", "futures"]),
    spot=st.integers(0, 100),
    total=st.decimals(1, 10**9, places=2),
    at_runtime=st.booleans(),
)
def test_property_7_enabled_engine_gets_all_capital_when_other_disabled(
    disabled: str, spot: int, total: Decimal, at_runtime: bool
) -> None:
    """Property 7: disabled engine capital reallocation. Validates 7.3."""
    enabled = "futures" if disabled == "spot" else "spot"
    if at_runtime:
        alloc = CapitalAllocator(
            UnifiedConfig(**BOTH, spot_capital_pct=spot, futures_capital_pct=100 - spot)
        )
        alloc.disable(disabled)
    else:
        alloc = CapitalAllocator(UnifiedConfig(**{**BOTH, f"{disabled}_enabled": False}))
    assert alloc.get_allocation(enabled, total).allocated_usd == total
    assert alloc.get_allocation(disabled, total).allocated_usd == 0


# ---------------------------------------------------------------- property 8
@EXAMPLES
@given(limit=st.floats(0.5, 50), start=st.floats(1000, 1e7), excess=st.floats(0.01, 40))
def test_property_8_daily_loss_over_limit_halts_both_engines(
    limit: float, start: float, excess: float
) -> None:
    """Property 8: global daily loss limit enforcement. Validates 8.2."""
    loss_pct = min(limit + excess, 99.0)
    cfg = UnifiedConfig(**BOTH, global_daily_loss_limit_pct=limit, global_max_drawdown_pct=100)
    clock = ManualClock(T0)
    rm = GlobalRiskMonitor(cfg, clock)
    rm.update(start)
    trip = rm.update(start * (1 - loss_pct / 100))
    assert trip is not None
    assert trip.action is RiskAction.HALT_NEW_TRADES
    signal = Signal("BTCUSDT", Direction.LONG, 100, 1.0, 0)
    for engine_limits in (RiskLimits(5, 0), RiskLimits(3, 0)):
        gate = RiskManager(engine_limits, rm.can_open_new_trade)
        decision = gate.check_entry(signal, 0, False, Decimal(100), Decimal(1000))
        assert not decision.allowed
        assert "circuit breaker" in decision.reason


# ---------------------------------------------------------------- property 9
@EXAMPLES
@given(limit=st.floats(1, 50), peak=st.floats(1000, 1e7), excess=st.floats(0.01, 40))
def test_property_9_drawdown_over_limit_closes_all_positions(
    limit: float, peak: float, excess: float
) -> None:
    """Property 9: global drawdown protection. Validates 8.3."""
    dd = min(limit + excess, 99.0)
    cfg = UnifiedConfig(**BOTH, global_max_drawdown_pct=limit, global_daily_loss_limit_pct=100)

    async def scenario() -> dict[str, int]:
        clock = ManualClock(T0)
        orch, engines = _orchestrator(cfg, clock)
        await orch.start()
        await _settle()
        for e in engines.values():
            e.set_equity(Decimal(str(peak / 2)))
        await orch.monitor_once()
        for e in engines.values():
            e.set_equity(Decimal(str(peak / 2 * (1 - dd / 100))))
        await orch.monitor_once()
        left = {n: e.positions for n, e in engines.items()}
        await orch.stop()
        return left

    assert asyncio.run(scenario()) == {"spot": 0, "futures": 0}


# ---------------------------------------------------------------- property 10
@EXAMPLES
@given(warn=st.integers(1, 1000), extra=st.integers(1, 1000), age=st.floats(0, 5000))
def test_property_10_stale_heartbeat_is_flagged_unhealthy(
    warn: int, extra: int, age: float
) -> None:
    """Property 10: heartbeat timeout detection. Validates 9.2, 9.3."""
    cfg = UnifiedConfig(
        **BOTH, heartbeat_warning_seconds=warn, heartbeat_restart_seconds=warn + extra
    )
    clock = ManualClock(T0)
    hm = HealthMonitor(cfg, clock)
    hm.register("spot")
    clock.advance(age)
    assert ("spot" in hm.check_health()) == (age > warn)


# ---------------------------------------------------------------- property 11
@EXAMPLES
@given(ticks=st.lists(st.integers(0, 50), min_size=2, max_size=2))
def test_property_11_shutdown_waits_for_current_operations(ticks: list[int]) -> None:
    """Property 11: graceful shutdown completion. Validates 10.2."""

    async def scenario() -> list[tuple[bool, int, int]]:
        clock = ManualClock(T0)
        orch, engines = _orchestrator(UnifiedConfig(**BOTH), clock)
        for e, n in zip(engines.values(), ticks, strict=True):
            e.op_duration_ticks = n
        await orch.start()
        await asyncio.sleep(0)  # engines are now inside their first operation
        await orch.stop()
        return [(e.op_in_flight, e.ops_completed, e.steps) for e in engines.values()]

    for in_flight, completed, steps in asyncio.run(scenario()):
        assert not in_flight
        assert completed == steps  # every operation that started also finished

"""CapitalAllocator, GlobalRiskMonitor and HealthMonitor on a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from config import ConfigValidationError, UnifiedConfig
from kinetic.clock import ManualClock
from kinetic.domain import EngineStatus
from kinetic.supervisor.allocator import CapitalAllocator
from kinetic.supervisor.health import HealthMonitor
from kinetic.supervisor.risk_monitor import GlobalRiskMonitor, RiskAction

# seed 000 runs both engines; the default config leaves spot off (issue 15: no spot
# strategy passed the out-of-sample validation)
BOTH = {"spot_enabled": True}

NOON = datetime(2025, 10, 10, 12, tzinfo=UTC).timestamp()


def test_allocation_gives_each_engine_its_share() -> None:
    alloc = CapitalAllocator(UnifiedConfig(**BOTH))
    a = alloc.get_allocation("spot", Decimal(10000), Decimal(1000))
    assert a.allocated_usd == Decimal(4000)
    assert a.available_usd == Decimal(3000)
    assert alloc.get_allocation("futures", Decimal(10000)).allocated_usd == Decimal(6000)


def test_disabled_engine_share_goes_to_the_other() -> None:
    alloc = CapitalAllocator(UnifiedConfig(spot_enabled=True, futures_enabled=False))
    assert alloc.allocated_pct("spot") == 100.0
    assert alloc.allocated_pct("futures") == 0.0
    both = CapitalAllocator(UnifiedConfig(**BOTH))
    both.disable("spot")
    assert both.reallocate_disabled_capital() == {"spot": 0.0, "futures": 100.0}


def test_allocation_after_a_disable_gives_the_new_shares() -> None:
    # the shares asked for before the disable (remembered per engine) are not reused
    both = CapitalAllocator(UnifiedConfig(**BOTH))
    assert both.get_allocation("futures", Decimal(10000)).allocated_usd == Decimal(6000)
    assert both.get_allocation("spot", Decimal(10000)).allocated_pct == 40.0
    both.disable("spot")
    after = both.get_allocation("futures", Decimal(10000))
    assert (after.allocated_pct, str(after.allocated_usd)) == (100.0, "10000.0")
    assert both.get_allocation("spot", Decimal(10000)).allocated_usd == Decimal(0)


def test_allocation_available_is_zero_itself_when_exposure_uses_it_all() -> None:
    alloc = CapitalAllocator(UnifiedConfig(**BOTH))
    over = alloc.get_allocation("spot", Decimal("10000.00"), Decimal("4000.000"))
    assert str(over.available_usd) == "0"  # ZERO itself, not 0.000
    room = alloc.get_allocation("spot", Decimal("10000.00"), Decimal("1000.5"))
    assert str(room.available_usd) == "2999.500"  # max(ZERO, allocated - exposure)


def test_allocator_refuses_over_100_percent() -> None:
    cfg = UnifiedConfig.model_construct(
        spot_capital_pct=70.0, futures_capital_pct=50.0, spot_enabled=True, futures_enabled=True
    )
    with pytest.raises(ConfigValidationError, match="spot_capital_pct"):
        CapitalAllocator(cfg)


def test_daily_loss_trips_breaker_and_cooldown_reopens() -> None:
    clock = ManualClock(NOON)
    rm = GlobalRiskMonitor(UnifiedConfig(**BOTH), clock)
    assert rm.update(10000) is None
    trip = rm.update(9400)
    assert trip is not None
    assert trip.action is RiskAction.HALT_NEW_TRADES
    assert not rm.can_open_new_trade()
    clock.advance(59 * 60)
    assert not rm.can_open_new_trade()
    clock.advance(61)
    assert rm.can_open_new_trade()


def test_daily_loss_resets_at_utc_midnight() -> None:
    clock = ManualClock(datetime(2025, 10, 10, 23, 0, tzinfo=UTC).timestamp())
    rm = GlobalRiskMonitor(UnifiedConfig(**BOTH), clock)
    rm.update(10000)
    rm.update(9700)
    clock.advance(2 * 3600)  # next UTC day: new baseline 9700
    assert rm.update(9700) is None
    assert rm.day_start_value == 9700
    assert rm.update(9300) is None  # -4.1% of the new day's 9700: under the 5% limit
    trip = rm.update(9200)  # -5.2% of 9700 (drawdown from 10000 is only 8%)
    assert trip is not None
    assert trip.action is RiskAction.HALT_NEW_TRADES


def test_drawdown_trip_closes_all_and_holds_past_cooldown_until_released() -> None:
    clock = ManualClock(NOON)
    cfg = UnifiedConfig(**BOTH, global_daily_loss_limit_pct=50)
    rm = GlobalRiskMonitor(cfg, clock)
    rm.update(10000)
    clock.advance(86400)
    rm.update(10000)
    trip = rm.update(8400)
    assert trip is not None
    assert trip.action is RiskAction.CLOSE_ALL
    assert trip.until is None
    assert trip.at == clock.time()
    assert rm.update(8300) is None  # no second close-all during the same hold
    clock.advance(7 * 86400)  # no cooldown ends it, and the peak is never re-based
    assert rm.update(8300) is None
    assert rm.peak_portfolio_value == 10000
    assert not rm.can_open_new_trade()
    assert not rm.would_trip(10000, 1)  # nothing can trip again while held
    rm.release_drawdown(8300)  # the operator's clear
    assert rm.can_open_new_trade()
    assert rm.peak_portfolio_value == 8300
    assert rm.update(8200) is None
    trip = rm.update(7000)  # 15.7% below the re-based peak
    assert trip is not None
    assert trip.action is RiskAction.CLOSE_ALL


def test_heartbeat_warning_and_restart_thresholds() -> None:
    clock = ManualClock(NOON)
    hm = HealthMonitor(UnifiedConfig(**BOTH), clock)
    hm.register("spot")
    clock.advance(60)
    assert hm.check_health() == []
    clock.advance(1)
    assert hm.check_health() == ["spot"]
    assert not hm.should_restart("spot")
    clock.advance(240)
    assert hm.should_restart("spot")
    hm.record_heartbeat("spot")
    assert hm.check_health() == []


def test_restart_budget_and_backoff() -> None:
    clock = ManualClock(NOON)
    cfg = UnifiedConfig(**BOTH, engine_restart_max_attempts=2, engine_restart_backoff_seconds=2)
    hm = HealthMonitor(cfg, clock)
    hm.register("futures")
    delays = []
    for _ in range(2):
        hm.record_error("futures", "boom")
        assert hm.should_restart("futures")
        delays.append(hm.backoff_seconds("futures"))
        hm.record_restart("futures")
    hm.record_error("futures", "boom")
    assert not hm.should_restart("futures")
    assert delays == [2.0, 4.0]
    hm.mark_stopped("futures")
    assert hm.engine_health["futures"].status is EngineStatus.STOPPED


def test_restart_on_the_same_utc_day_keeps_the_daily_loss_baseline() -> None:
    clock = ManualClock(NOON)
    rm = GlobalRiskMonitor(UnifiedConfig(**BOTH), clock)
    rm.update(10000)
    state = {"day": rm.day, "day_start_equity": rm.day_start_value, "peak_equity": 10000}
    restarted = GlobalRiskMonitor(UnifiedConfig(**BOTH), clock)
    restarted.restore(state)
    trip = restarted.update(9400)  # -6 % of the morning's value, not of the restart value
    assert trip is not None
    assert trip.action is RiskAction.HALT_NEW_TRADES

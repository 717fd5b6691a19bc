"""``GlobalRiskMonitor.update`` and ``would_trip`` decide with their helpers' predicates.

Both spell out ``_drawdown_pct`` and ``check_daily_loss_limit`` (a backtest asks once per
step and per skipped stretch); these tests hold them to the helpers' answers on any
values, nan, zero and negative ones included.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from config import UnifiedConfig
from kinetic.clock import ManualClock
from kinetic.supervisor.risk_monitor import GlobalRiskMonitor, _drawdown_pct

_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 100.0, 84.0, 85.0, 96.0, 97.0, math.nan]),
)
_LIMITS = st.sampled_from([-1.0, 0.0, 3.0, 15.0])


def _monitor(dd: float, daily: float, peak: float, start: float) -> GlobalRiskMonitor:
    rm = GlobalRiskMonitor(UnifiedConfig(), ManualClock(1_700_000_000.0))
    rm._dd_limit, rm._daily_limit = dd, daily
    rm.day = rm._utc_day()  # today: ``update`` keeps the start value
    rm.peak_portfolio_value, rm.day_start_value = peak, start
    return rm


def _reference_trip(rm: GlobalRiskMonitor, peak: float, value: float) -> bool:
    """``would_trip`` as written with its helpers."""
    if rm.drawdown_latched:
        return False
    if _drawdown_pct(max(rm.peak_portfolio_value, peak), value) > rm._dd_limit:
        return True
    return rm.check_daily_loss_limit(value)


@settings(max_examples=400, deadline=None)
@given(_VALUES, _VALUES, _VALUES, _VALUES, _LIMITS, _LIMITS)
def test_would_trip_is_its_helpers_predicate(
    peak: float, start: float, high: float, value: float, dd: float, daily: float
) -> None:
    rm = _monitor(dd, daily, peak, start)
    assert rm.would_trip(high, value) == _reference_trip(rm, high, value)


@settings(max_examples=400, deadline=None)
@given(_VALUES, _VALUES, _VALUES, _LIMITS, _LIMITS)
def test_update_trips_as_its_helpers_say(
    peak: float, start: float, value: float, dd: float, daily: float
) -> None:
    rm = _monitor(dd, daily, peak, start)
    new_peak = max(rm.peak_portfolio_value, value)
    drawdown = _drawdown_pct(new_peak, value) > dd
    daily_loss = rm.check_daily_loss_limit(value)
    trip = rm.update(value)
    assert rm.peak_portfolio_value == new_peak or (
        math.isnan(new_peak) and math.isnan(rm.peak_portfolio_value)
    )
    if drawdown:
        assert trip is not None
        assert rm.drawdown_latched
    elif daily_loss:
        assert trip is not None
        assert rm.circuit_breaker_active
        assert not rm.drawdown_latched
    else:
        assert trip is None
        assert not rm.circuit_breaker_active

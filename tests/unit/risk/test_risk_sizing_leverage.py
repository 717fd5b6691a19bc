"""ConfidencePositionSizer, fixed-fraction spot sizing and RegimeLeverageCalculator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import Regime
from kinetic.risk import ConfidencePositionSizer, RegimeLeverageCalculator, fixed_fraction_quantity

PROPS = settings(max_examples=100, deadline=None)


def test_size_pct_is_linear_from_min_at_threshold_to_max_at_100() -> None:
    sizer = ConfidencePositionSizer(min_pct=5.0, max_pct=15.0, min_confidence=50)
    assert sizer.size_pct(49) == 0.0
    assert sizer.size_pct(50) == pytest.approx(5.0)
    assert sizer.size_pct(75) == pytest.approx(10.0)
    assert sizer.size_pct(100) == pytest.approx(15.0)


def test_quantity_is_margin_times_leverage_over_price() -> None:
    sizer = ConfidencePositionSizer(min_pct=5.0, max_pct=15.0, min_confidence=50)
    qty = sizer.quantity(Decimal(10_000), Decimal(50_000), confidence=100, leverage=4)
    assert qty == Decimal(10_000) * Decimal("0.15") * 4 / Decimal(50_000)
    assert sizer.quantity(Decimal(10_000), Decimal(100), confidence=10, leverage=4) == 0


def test_invalid_sizer_inputs_rejected() -> None:
    with pytest.raises(ValueError):
        ConfidencePositionSizer(min_pct=20.0, max_pct=10.0, min_confidence=50)
    sizer = ConfidencePositionSizer(1.0, 2.0, 50)
    with pytest.raises(ValueError, match="price"):
        sizer.quantity(Decimal(1), Decimal(0), 90, 1)
    with pytest.raises(ValueError, match="leverage"):
        sizer.quantity(Decimal(1), Decimal(1), 90, 0)


def test_fixed_fraction_quantity() -> None:
    assert fixed_fraction_quantity(Decimal(1000), 10.0, Decimal(25)) == Decimal(4)
    assert fixed_fraction_quantity(Decimal(0), 10.0, Decimal(25)) == 0
    with pytest.raises(ValueError):
        fixed_fraction_quantity(Decimal(1000), 150.0, Decimal(25))


pcts = st.floats(min_value=0.01, max_value=100.0)


@PROPS
@given(pcts, pcts, st.integers(0, 100), st.floats(-50.0, 150.0))
def test_size_pct_within_bounds_or_zero(a: float, b: float, min_conf: int, conf: float) -> None:
    lo, hi = min(a, b), max(a, b)
    pct = ConfidencePositionSizer(lo, hi, min_conf).size_pct(conf)
    if conf < min_conf:
        assert pct == 0.0
    else:
        assert lo <= pct <= hi


@PROPS
@given(pcts, pcts, st.integers(0, 99), st.integers(0, 100), st.integers(0, 100))
def test_size_pct_monotone_in_confidence(
    a: float, b: float, min_conf: int, c1: int, c2: int
) -> None:
    sizer = ConfidencePositionSizer(min(a, b), max(a, b), min_conf)
    lo, hi = min(c1, c2), max(c1, c2)
    assert sizer.size_pct(lo) <= sizer.size_pct(hi)


@PROPS
@given(
    st.integers(1, 125), st.integers(1, 125),
    st.sampled_from([*Regime, None]), st.floats(-1e6, 1e6, allow_nan=False),
)  # fmt: skip
def test_leverage_always_within_bounds(a: int, b: int, regime: Regime | None, conf: float) -> None:
    lo, hi = min(a, b), max(a, b)
    lev = RegimeLeverageCalculator(lo, hi).leverage(regime, conf)
    assert isinstance(lev, int)
    assert lo <= lev <= hi


def test_leverage_by_regime() -> None:
    calc = RegimeLeverageCalculator(2, 10)
    assert calc.leverage(Regime.SIDEWAYS, 100) == 2
    assert calc.leverage(Regime.TRENDING, 100) == 10
    assert calc.leverage(Regime.TRENDING, 50) == 6
    assert calc.leverage(Regime.TRENDING, 0) == 2
    transitional = calc.leverage(Regime.TRANSITIONAL, 100)
    assert 2 < transitional < calc.leverage(Regime.TRENDING, 100)
    with pytest.raises(ValueError):
        RegimeLeverageCalculator(5, 2)

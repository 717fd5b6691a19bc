"""The remembered factors of ``take_profit`` / ``fixed_pct_stop`` give the full expression's
Decimal, digit for digit and exponent for exponent (3 and 3.0 differ), on every call."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import HUNDRED, PositionSide
from kinetic.risk.stops import fixed_pct_stop, level_factors, take_profit

ENTRY = Decimal("56683.27")


def _target(entry: Decimal, side: PositionSide, pct: float | int | Decimal) -> Decimal:
    return entry * (1 + side.sign * Decimal(str(pct)) / HUNDRED)


def _stop(entry: Decimal, side: PositionSide, pct: float | int | Decimal) -> Decimal:
    return entry * (1 - side.sign * Decimal(str(pct)) / HUNDRED)


@pytest.mark.parametrize("pct", [3, 3.0, 0.5, 11.0, 99.9999999, 0, 0.0, 100, 100.0, Decimal("3.0")])
@pytest.mark.parametrize("side", list(PositionSide))
def test_levels_are_the_full_expression(side: PositionSide, pct: float | int | Decimal) -> None:
    for _ in range(2):  # the first call computes the factor, the second reuses it
        assert str(take_profit(ENTRY, side, pct)) == str(_target(ENTRY, side, pct))
        if pct < 100:
            assert str(fixed_pct_stop(ENTRY, side, pct)) == str(_stop(ENTRY, side, pct))


def test_int_and_float_percentages_keep_their_exponents() -> None:
    # 100 and 100.0 (0 and 0.0) are equal keys to an untyped cache, but give levels of
    # different exponents
    assert str(take_profit(ENTRY, PositionSide.LONG, 100)) == "113366.54"
    assert str(take_profit(ENTRY, PositionSide.LONG, 100.0)) == "113366.540"
    assert str(fixed_pct_stop(ENTRY, PositionSide.LONG, 0)) == "56683.27"
    assert str(fixed_pct_stop(ENTRY, PositionSide.LONG, 0.0)) == "56683.270"


@pytest.mark.parametrize("pct", [-1.0, -1, Decimal("-1")])
def test_refused_percentages_raise_every_time(pct: float | int | Decimal) -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="pct must be >= 0"):
            take_profit(ENTRY, PositionSide.LONG, pct)
    for bad in (pct, 100, 100.0):
        with pytest.raises(ValueError, match="within"):
            fixed_pct_stop(ENTRY, PositionSide.SHORT, bad)


@settings(max_examples=300, deadline=None)
@given(
    entry=st.builds(lambda c, e: Decimal(c).scaleb(e), st.integers(1, 10**9), st.integers(-8, 4)),
    stop_pct=st.one_of(
        st.floats(0, 99.9999999), st.integers(0, 99), st.sampled_from([100.0, -1.0, 250, 1e12])
    ),
    target_pct=st.one_of(st.floats(0, 1e12), st.integers(0, 500), st.just(-0.5)),
    long=st.booleans(),
)
def test_level_factors_give_what_the_functions_give(
    entry: Decimal, stop_pct: float, target_pct: float, long: bool
) -> None:
    side = PositionSide.LONG if long else PositionSide.SHORT
    stop_f, target_f = level_factors(side, stop_pct, target_pct)
    for factor, fn, pct in (
        (stop_f, fixed_pct_stop, stop_pct),
        (target_f, take_profit, target_pct),
    ):
        try:
            want = fn(entry, side, pct)
        except ValueError:  # refused: no factor, the caller's call raises
            assert factor is None
            continue
        assert factor is not None
        assert str(entry * factor) == str(want)


def test_level_factors_are_none_for_decimals() -> None:
    # a Decimal percentage is not remembered (equal Decimals may differ in exponent)
    assert level_factors(PositionSide.LONG, Decimal("2"), Decimal("3")) == (None, None)

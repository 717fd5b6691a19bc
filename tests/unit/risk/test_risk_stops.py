"""Stops, take-profit and the trailing stop."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import Position, PositionSide
from kinetic.risk import (
    atr_stop,
    fixed_pct_stop,
    stop_hit,
    take_profit,
    take_profit_hit,
    update_trailing,
)

LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
D = Decimal


def position(side: PositionSide, entry: str = "100", stop: str = "97") -> Position:
    return Position(
        symbol="BTCUSDT", side=side, quantity=D(1), entry_price=D(entry), opened_ms=0,
        stop_price=D(stop), take_profit=D("106") if side is LONG else D("94"),
    )  # fmt: skip


def test_fixed_pct_stop_and_take_profit() -> None:
    assert fixed_pct_stop(D(100), LONG, 3.0) == D(97)
    assert fixed_pct_stop(D(100), SHORT, 3.0) == D(103)
    assert take_profit(D(100), LONG, 6.0) == D(106)
    assert take_profit(D(100), SHORT, 6.0) == D(94)
    with pytest.raises(ValueError):
        fixed_pct_stop(D(100), LONG, 100.0)


def test_atr_stop() -> None:
    assert atr_stop(D(100), LONG, 1.5, 2.0) == D("97.0")
    assert atr_stop(D(100), SHORT, 1.5, 2.0) == D("103.0")
    assert atr_stop(D(1), LONG, 5.0, 2.0) == 0


def test_stop_and_take_profit_hits() -> None:
    long_pos = position(LONG)
    assert stop_hit(long_pos, high=101.0, low=96.9)
    assert not stop_hit(long_pos, high=101.0, low=97.1)
    assert take_profit_hit(long_pos, high=106.0, low=100.0)
    short_pos = position(SHORT, stop="103")
    assert stop_hit(short_pos, high=103.0, low=99.0)
    assert not stop_hit(short_pos, high=102.9, low=99.0)
    assert take_profit_hit(short_pos, high=100.0, low=93.0)
    short_pos.take_profit = None
    assert not take_profit_hit(short_pos, high=100.0, low=1.0)


def test_trailing_activates_at_threshold_then_follows_best_price() -> None:
    pos = position(LONG)
    up = update_trailing(pos, D("101.9"), activation_pct=2.0, distance_pct=1.0)
    assert not up.trailing_active
    assert up.stop_price == D(97)
    up.apply(pos)
    up = update_trailing(pos, D(102), 2.0, 1.0)
    assert up.trailing_active
    assert up.changed
    assert up.stop_price == D("100.98")
    up.apply(pos)
    up = update_trailing(pos, D(101), 2.0, 1.0)  # price falls back: stop holds
    assert up.stop_price == D("100.98")
    assert up.best_price == D(102)
    assert not up.changed


def test_trailing_short_mirrors_long() -> None:
    pos = position(SHORT, stop="103")
    up = update_trailing(pos, D(95), 2.0, 1.0)
    assert up.trailing_active
    assert up.stop_price == D("95.95")


@settings(max_examples=100, deadline=None)
@given(
    side=st.sampled_from([LONG, SHORT]),
    prices=st.lists(
        st.decimals(min_value=D(50), max_value=D(150), places=2), min_size=1, max_size=60
    ),
    activation=st.floats(0.0, 10.0),
    distance=st.floats(0.1, 20.0),
)
def test_trailing_stop_never_loosens(
    side: PositionSide, prices: list[Decimal], activation: float, distance: float
) -> None:
    pos = position(side, stop="97" if side is LONG else "103")
    was_active = False
    for price in prices:
        before = pos.stop_price
        update = update_trailing(pos, price, activation, distance)
        update.apply(pos)
        if side is LONG:
            assert pos.stop_price >= before
        else:
            assert pos.stop_price <= before
        assert pos.trailing_active or not was_active  # once active, stays active
        was_active = pos.trailing_active

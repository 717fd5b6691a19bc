"""``first_touch``: the first bar that reaches a level, or none (issue 13 fast-forward)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinetic.backtest.skipping import SHORT_RANGE, first_touch

NAN = math.nan
_PRICE = st.floats(min_value=1.0, max_value=1e5)
_BAR_PRICE = st.one_of(_PRICE, st.just(NAN))


def _reference(low: list[float], high: list[float], below: list[float], above: list[float],
               margin: float) -> int:  # fmt: skip
    for i, (lo, hi) in enumerate(zip(low, high, strict=True)):
        if (below and lo <= max(below) * (1 + margin)) or (
            above and hi >= min(above) * (1 - margin)
        ):
            return i
    return len(low)


def test_a_low_at_the_stop_is_a_touch_and_nothing_reached_is_the_length() -> None:
    low, high = np.array([5.0, 4.0, 0.5]), np.array([7.0, 8.0, 9.0])
    assert first_touch(low, high, [1.0], [100.0], 1e-9) == 2
    assert first_touch(low, high, [0.1], [100.0], 1e-9) == 3
    assert first_touch(low, high, [], [8.0], 1e-9) == 1
    assert first_touch(low, high, [], [], 1e-9) == 3


def test_a_level_reached_exactly_is_a_touch() -> None:
    low, high = np.array([5.0, 1.0, 5.0]), np.array([7.0, 7.0, 8.0])
    assert first_touch(low, high, [1.0], [], 0.0) == 1
    assert first_touch(low, high, [], [8.0], 0.0) == 2


def test_a_nan_bar_is_no_touch() -> None:
    low, high = np.array([5.0, NAN, 6.0]), np.array([7.0, NAN, 9.0])
    assert first_touch(low, high, [1.0], [100.0], 1e-9) == 3
    assert first_touch(low, high, [5.5], [100.0], 1e-9) == 0


@pytest.mark.parametrize("n", [SHORT_RANGE, SHORT_RANGE + 1, 100])
def test_short_and_long_ranges_answer_alike(n: int) -> None:
    """Both ways (a loop up to ``SHORT_RANGE`` bars, reductions beyond): the last bar
    touches, a nan bar before it does not, and nothing touches without it."""
    low, high = np.full(n, 5.0), np.full(n, 7.0)
    low[n - 2], high[n - 2] = NAN, NAN
    low[-1] = 0.5
    assert first_touch(low, high, [1.0], [100.0], 1e-9) == n - 1
    assert first_touch(low[:-1], high[:-1], [1.0], [100.0], 1e-9) == n - 1
    high[-1] = 200.0
    assert first_touch(low, high, [0.1], [150.0], 1e-9) == n - 1


@given(
    bars=st.lists(st.tuples(_BAR_PRICE, _BAR_PRICE), min_size=1, max_size=40),
    below=st.lists(_PRICE, max_size=3),
    above=st.lists(_PRICE, max_size=3),
)
def test_first_touch_is_the_first_bar_reaching_a_level(
    bars: list[tuple[float, float]], below: list[float], above: list[float]
) -> None:
    low = [a if math.isnan(a) else min(a, b) for a, b in bars]  # nan lows and highs too
    high = [b if math.isnan(b) else max(a, b) for a, b in bars]
    got = first_touch(np.array(low), np.array(high), below, above, 1e-9)
    assert got == _reference(low, high, below, above, 1e-9)

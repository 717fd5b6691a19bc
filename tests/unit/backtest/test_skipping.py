"""``first_touch``: the first bar that reaches a level, or none (issue 13 fast-forward)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from kinetic.backtest.skipping import first_touch

NAN = math.nan
_PRICE = st.floats(min_value=1.0, max_value=1e5)


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


def test_a_nan_bar_is_no_touch() -> None:
    low, high = np.array([5.0, NAN, 6.0]), np.array([7.0, NAN, 9.0])
    assert first_touch(low, high, [1.0], [100.0], 1e-9) == 3
    assert first_touch(low, high, [5.5], [100.0], 1e-9) == 0


@given(
    bars=st.lists(st.tuples(_PRICE, _PRICE), min_size=1, max_size=30),
    below=st.lists(_PRICE, max_size=3),
    above=st.lists(_PRICE, max_size=3),
)
def test_first_touch_is_the_first_bar_reaching_a_level(
    bars: list[tuple[float, float]], below: list[float], above: list[float]
) -> None:
    low = [min(a, b) for a, b in bars]
    high = [max(a, b) for a, b in bars]
    got = first_touch(np.array(low), np.array(high), below, above, 1e-9)
    assert got == _reference(low, high, below, above, 1e-9)

"""``levels_clear_until``'s coarse extremes: the answer ``first_touch`` gives, cheaper."""

from __future__ import annotations

import math
import random

import numpy as np

from kinetic.backtest.skipping import first_touch
from kinetic.backtest.stretch import COARSE, MARGIN, coarse_clear, coarse_extremes


def _columns(n: int, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    close = np.cumsum(np.array([rng.gauss(0, 1) for _ in range(n)])) + 100
    low, high = close - 1, close + 1
    for _ in range(rng.randint(0, 3)):  # a few nan lows or highs
        (low if rng.random() < 0.5 else high)[rng.randrange(n)] = math.nan
    return low, high


def test_coarse_clear_never_says_clear_when_a_bar_reaches_a_level() -> None:
    """Clear by the coarse blocks implies ``first_touch`` finds no bar; it also says
    clear on most far-away levels (what it is for)."""
    rng = random.Random(11)
    said = 0
    for _ in range(3000):
        n = rng.randint(1, 5 * COARSE)
        low, high = _columns(n, rng)
        coarse = coarse_extremes(low, high)
        assert coarse is not None
        lo = rng.randrange(n)
        hi = rng.randint(lo + 1, n)
        spread = rng.choice([0.5, 3, 30, 1e6])
        mid = next((float(v) for v in low[lo:hi] if v == v), 100.0)
        below = [mid - spread * rng.random()] if rng.random() < 0.9 else []
        above = [mid + spread * rng.random()] if rng.random() < 0.9 else []
        if rng.random() < 0.05:
            below = [math.nan]
        floor = max(below) * (1 + MARGIN) if below else -math.inf
        ceiling = min(above) * (1 - MARGIN) if above else math.inf
        exact = first_touch(low[lo:hi], high[lo:hi], below, above, MARGIN) >= hi - lo
        if coarse_clear(coarse, lo, hi, floor, ceiling):
            said += 1
            assert exact, (n, lo, hi, below, above)
    assert said > 500


def test_coarse_extremes_are_the_blocks_extremes() -> None:
    low = np.arange(2 * COARSE + 3, dtype=np.float64)
    high = low + 10
    low[COARSE + 5] = math.nan
    lows, highs = coarse_extremes(low, high)  # type: ignore[misc]
    assert lows == [0.0, -math.inf, 2.0 * COARSE]
    assert highs == [COARSE - 1 + 10.0, 2 * COARSE - 1 + 10.0, 2 * COARSE + 2 + 10.0]
    high[2 * COARSE] = math.nan
    assert coarse_extremes(low, high)[1][2] == math.inf  # type: ignore[index]
    # a range in one block, across two, and at a block's end
    coarse = coarse_extremes(np.arange(3 * COARSE, dtype=np.float64), np.arange(3 * COARSE) + 1.0)
    assert coarse is not None
    assert coarse_clear(coarse, COARSE, COARSE + 1, COARSE - 0.5, math.inf)
    assert not coarse_clear(coarse, COARSE, COARSE + 1, COARSE + 0.5, math.inf)
    assert not coarse_clear(coarse, COARSE - 1, COARSE + 1, COARSE - 1.5, math.inf)
    assert coarse_clear(coarse, 0, COARSE, -math.inf, COARSE + 0.5)
    assert not coarse_clear(coarse, 0, COARSE + 1, -math.inf, COARSE + 0.5)
    assert not coarse_clear(coarse, 0, 3 * COARSE, -math.inf, 3 * COARSE - 0.5)


def test_other_dtypes_are_left_to_first_touch() -> None:
    a = np.arange(10, dtype=np.float32)
    assert coarse_extremes(a, a.astype(np.float64)) is None
    assert coarse_extremes(a.astype(np.float64), a) is None
    assert coarse_extremes(np.zeros(0), np.zeros(0)) is None


def test_a_low_at_the_level_is_a_touch_and_the_margin_counts() -> None:
    from types import SimpleNamespace

    from kinetic.backtest.stretch import _levels_clear

    low = np.full(2 * COARSE, 100.0)
    high = low + 1
    coarse = coarse_extremes(low, high)
    assert coarse is not None
    assert not coarse_clear(coarse, COARSE, COARSE + 1, 100.0, math.inf)  # equal: reached
    assert not coarse_clear(coarse, COARSE, COARSE + 1, -math.inf, 101.0)
    driver = SimpleNamespace(_coarse={}, _arrays=[SimpleNamespace(low=low, high=high)])
    within = [100.0 / (1 + MARGIN / 2)]  # below the low, but within the margin
    assert first_touch(low[3:9], high[3:9], within, [], MARGIN) == 0
    assert not _levels_clear(driver, 0, 3, 9, within, [])  # type: ignore[arg-type]
    assert not _levels_clear(driver, 0, 3, 9, [], [101.0 * (1 + MARGIN / 2)])  # type: ignore[arg-type]
    assert _levels_clear(driver, 0, 3, 9, [99.0], [102.0])  # type: ignore[arg-type]
    assert _levels_clear(driver, 0, 3, 9, [], [])  # type: ignore[arg-type]
    assert list(driver._coarse) == [0]


def test_float32_columns_are_left_to_first_touch() -> None:
    from types import SimpleNamespace

    from kinetic.backtest.stretch import _levels_clear

    low = np.full(8, 100.0, np.float32)
    driver = SimpleNamespace(_coarse={}, _arrays=[SimpleNamespace(low=low, high=low + 1)])
    assert not _levels_clear(driver, 0, 0, 8, [1.0], [1e9])  # type: ignore[arg-type]
    assert driver._coarse == {0: None}

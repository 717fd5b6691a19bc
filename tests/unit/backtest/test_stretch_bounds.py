"""A held stretch's value extremes are first bounded by the close blocks that hold it.

``stretch_values`` (one spot position) gives bounds of the lowest and highest value from
the ``COARSE``-bar blocks of closes; the risk check and the peak use them when they
decide, else the extremes (``exact_extremes``). The peak the risk monitor keeps must be
the highest value itself: a drawdown then trips on the bar stepping trips it on.
"""

from __future__ import annotations

import random
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from config import UnifiedConfig
from kinetic.backtest.driver import Driver
from kinetic.backtest.stretch import (
    COARSE,
    MARGIN,
    CurveFill,
    Stretch,
    _magnitudes,
    block_bounds,
    close_extremes,
)
from kinetic.clock import ManualClock
from kinetic.supervisor.risk_monitor import GlobalRiskMonitor


def test_block_bounds_hold_the_extremes() -> None:
    """The blocks' extreme closes are at or beyond the stretch's, and the values made
    from them (``scale * c + base``, monotonic) at or beyond the values' extremes."""
    rng = random.Random(7)
    close = np.array([rng.uniform(1, 1e5) for _ in range(5 * COARSE + 3)])
    clean = SimpleNamespace(_nan_free={}, _close_blocks={})
    for _ in range(3000):
        g = rng.randrange(len(close))
        h = rng.randint(g + 1, min(len(close), g + 3 * COARSE))
        bounds = block_bounds(clean, 0, close, g, h)  # type: ignore[arg-type]
        assert bounds is not None
        lo_b, hi_b = bounds
        lo_c, hi_c = close_extremes(clean, 0, close, g, h)  # type: ignore[arg-type]
        assert lo_b <= lo_c <= hi_c <= hi_b
        scale, base = rng.uniform(1e-6, 1e6), 0.0 + rng.uniform(-1e12, 1e12)
        assert scale * lo_b + base <= scale * lo_c + base
        assert scale * hi_c + base <= scale * hi_b + base


def test_the_peak_after_a_bounded_stretch_is_its_highest_value() -> None:
    """``_fast_forward`` raises the monitor's peak to the stretch's highest value: the
    block's bound is above it here (a higher close later in the block), and is not it."""
    close = np.array([100.0 + k for k in range(COARSE)])  # rising through one block
    arrays = SimpleNamespace(close=close)
    clock = ManualClock(1_700_000_000.0)
    monitor = GlobalRiskMonitor(UnifiedConfig(), clock)
    monitor.update(1.0)
    world = SimpleNamespace(orchestrator=SimpleNamespace(risk_monitor=monitor), clock=clock,
                            slots=[])  # fmt: skip
    driver = Driver(world, {"BTCUSDT": arrays})  # type: ignore[arg-type]
    driver._arrays = [arrays]  # type: ignore[list-item]
    driver._index = SimpleNamespace(identity=True)  # type: ignore[assignment]
    driver._fill = CurveFill(np.zeros(COARSE), np.zeros(COARSE, np.bool_), close)
    driver._forward_bars = lambda *_: None  # type: ignore[method-assign]
    scale, base = 2.0, 10.0
    g, h = 5, 20  # closes 105..119; the block's highest is 163
    low, high = scale * 100.0 + base, scale * close.max() + base  # the block's bounds
    last = scale * close.item(h - 1) + base
    stretch = Stretch(g, h, low, high, last, True, None, scale, base, 0)
    curve = SimpleNamespace(equity=np.zeros(COARSE), exposed=np.zeros(COARSE, np.bool_), n=0)
    driver._fast_forward(stretch, close, close, close, close, curve)  # type: ignore[arg-type]
    assert monitor.peak_portfolio_value == scale * 119.0 + base
    assert (stretch.low, stretch.high) == (scale * 105.0 + base, scale * 119.0 + base)


def test_a_nan_close_bounds_nothing() -> None:
    """A block with a nan close bounds its stretches by ``-inf`` and ``inf`` (the risk
    check then asks the extremes: nan, no skip); another dtype gives no bounds."""
    close = np.arange(3.0 * COARSE) + 1.0
    close[COARSE + 5] = np.nan
    blocks = SimpleNamespace(_nan_free={}, _close_blocks={})
    assert block_bounds(blocks, 0, close, COARSE, COARSE + 2) == (-np.inf, np.inf)  # type: ignore[arg-type]
    assert block_bounds(blocks, 0, close, 0, 3) == (1.0, float(COARSE))  # type: ignore[arg-type]
    ints = SimpleNamespace(_nan_free={}, _close_blocks={})
    assert block_bounds(ints, 0, np.arange(10), 0, 3) is None  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.one_of(st.none(), st.decimals(allow_nan=True, allow_infinity=True)),
    st.booleans(),
)
def test_magnitude_levels_lie_beyond_the_levels_floats(
    stop: Decimal, target: Decimal | None, long: bool
) -> None:
    """``levels_clear_until``'s first try: the floor it checks is at or above the float
    of the level below, the ceiling at or below the float of the level above; a level
    that is not finite, or a ceiling not above 0, gives none."""
    got = _magnitudes(stop, target, long)
    low, high = (stop, target) if long else (target, stop)
    if got is None:
        return
    below, above = got
    assert all(lv.is_finite() for lv in (stop, target) if lv is not None)
    if low is not None:
        assert below[0] >= float(low)
        assert below[0] * (1 + MARGIN) >= float(low) * (1 + MARGIN)
    else:
        assert below == []
    if high is not None:
        assert high > 0
        assert above[0] <= float(high)
        assert above[0] * (1 - MARGIN) <= float(high) * (1 - MARGIN)
    else:
        assert above == []

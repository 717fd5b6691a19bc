"""``_affine``: the recurrence in numpy columns equals the Python loop bit for bit."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.strategy.features import FeatureParams, FeatureState
from kinetic.strategy.indicators import _affine
from kinetic.strategy.indicators._affine import affine_array, affine_loop, columns
from tests.unit.strategy.test_confluence_arrays import _grid, _slice


def _bits(x: np.ndarray) -> list[int]:
    return np.asarray(x, np.float64).view(np.int64).tolist()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and _bits(a) == _bits(b)


@st.composite
def _series(draw: st.DrawFn) -> np.ndarray:
    """Random walks, flat stretches, runs of zeros (RSI gains) and sign changes."""
    n = draw(st.integers(0, 600))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["walk", "gains", "signed", "flat", "tiny"]))
    if kind == "walk":
        x = np.cumsum(rng.normal(0, 1, n)) + 100.0
    elif kind == "gains":
        x = np.maximum(rng.normal(0, 1, n), 0.0)
        x[rng.random(n) < 0.3] = 0.0
    elif kind == "signed":
        x = rng.normal(0, 1, n) * 10.0 ** rng.integers(-8, 8, n)
    elif kind == "flat":
        x = np.repeat(rng.normal(0, 5, max(1, n // 40 + 1)), 40)[:n]
    else:
        x = rng.normal(0, 1e-300, n)
    x[rng.random(n) < 0.05] = 0.0
    if n and draw(st.booleans()):
        x[rng.random(n) < 0.05] *= -0.0 if draw(st.booleans()) else 1.0
    return x.astype(np.float64)


_C = st.sampled_from([0.5, 0.8, 1 - 2 / 21, 1 - 2 / 51, 13 / 14, 1 - 1 / 14, 0.999, 1e-3])
_Y = st.sampled_from([0.0, -0.0, 1.0, 100.0, -3.5, 1e-300, 5e-324])


@settings(max_examples=300, deadline=None)
@given(_series(), _C, _Y, st.integers(1, 40), st.integers(2, 80))
def test_columns_equal_the_loop(u: np.ndarray, c: float, y: float, w: int, chunk: int) -> None:
    """Any warm-up (short ones repair chunks), chunk length and data: the loop's bits."""
    expected = affine_loop(c, u.tolist(), y)
    assert _same(columns(c, u, y, min(w, chunk - 1), chunk), expected)


@settings(max_examples=100, deadline=None)
@given(_series(), _C, _Y)
def test_affine_array_equals_the_loop(u: np.ndarray, c: float, y: float) -> None:
    assert _same(affine_array(c, u, y), affine_loop(c, u.tolist(), y))


def test_a_long_series_runs_in_columns_and_repairs_flat_zero_stretches() -> None:
    """500k bars (the plan takes columns) with long runs of zero gains: exact."""
    rng = np.random.default_rng(7)
    u = np.maximum(rng.normal(0, 1, 500_000), 0.0)
    u[100_000:103_000] = 0.0  # a stretch longer than a chunk: the warm-up cannot meet
    c = 13 / 14
    assert _affine.parallel(c, len(u))
    assert _same(affine_array(c, u, 0.5), affine_loop(c, u.tolist(), 0.5))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_take_the_loop(bad: float) -> None:
    u = np.linspace(1.0, 2.0, 50_000)
    u[30_000] = bad
    assert _same(affine_array(0.9, u, 1.0), affine_loop(0.9, u.tolist(), 1.0))


def test_overflow_takes_the_loop() -> None:
    u = np.full(50_000, 1e308)
    assert _same(affine_array(0.9, u, 1e308), affine_loop(0.9, u.tolist(), 1e308))


@pytest.mark.parametrize("c", [0.0, 1.0, 1.5, -0.5])
def test_non_contractive_factors_take_the_loop(c: float) -> None:
    assert not _affine.parallel(c, 10**6)
    u = np.linspace(-1.0, 1.0, 1000)
    assert _same(affine_array(c, u, 0.25), affine_loop(c, u.tolist(), 0.25))


def test_short_series_take_the_loop() -> None:
    assert not _affine.parallel(0.9, 100)
    assert _affine.parallel(0.9, 500_000)


def test_chunks_meet_bit_for_bit_not_as_equal_floats() -> None:
    """A series of -0.0 from -0.0 stays -0.0; a warm-up from +0.0 (the approximate
    start's sum) stays +0.0, equal as a float but not as bits: recomputed."""
    u = np.full(5_000, -0.0)
    expected = affine_loop(0.5, u.tolist(), -0.0)
    assert _same(columns(0.5, u, -0.0, 3, 100), expected)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(52, 400), grid=st.booleans(),
       chunk=st.integers(2, 40), w=st.integers(1, 39))  # fmt: skip
def test_a_tracked_feed_in_columns_gives_each_bars_features(
    seed: int, n: int, grid: bool, chunk: int, w: int
) -> None:
    """Every recurrence of ``FeatureState.feed`` in (short) columns: the stepped values."""
    arrays = _grid(seed, n) if grid else _slice(seed * 6, n)
    stepped, fed = FeatureState(FeatureParams()), FeatureState(FeatureParams())
    head = FeatureParams().warmup + 1
    for i in range(head):
        stepped.update(arrays.candle(i))
        fed.update(arrays.candle(i))
    plan = (min(w, chunk - 1), chunk)
    with mock.patch.object(_affine, "_plan", lambda c, size: plan if 0 < c < 1 else None):
        tracked = fed.feed(arrays, head, n, track=True)
    assert tracked is not None
    for i in range(head, n):
        f = stepped.update(arrays.candle(i))
        assert f is not None
        got = [col[i - head].item() for col in tracked]
        want = [f.ema_fast, f.ema_slow, f.rsi, f.atr, f.adx, f.macd_hist, f.plus_di, f.minus_di]
        assert _bits(np.array(got)) == _bits(np.array(want))


@pytest.mark.parametrize("c", [0.5, 1 - 2 / 21, 13 / 14, 1 - 2 / 51])
def test_the_guesses_are_close_so_few_chunks_are_recomputed(c: float) -> None:
    """Only the speed rests on ``_guess``: within 1e-13 of the values, and on a long
    random walk's EMA inputs nearly every chunk meets its predecessor."""
    u = (1 - c) * (np.cumsum(np.random.default_rng(3).normal(0, 10, 200_000)) + 30_000.0)
    exact = affine_loop(c, u.tolist(), 30_000.0)
    first, step = 700, 977
    got = _affine._guess(c, u, 30_000.0, first, step, 150)
    want = exact[first::step][:150]
    assert np.allclose(got, want, rtol=1e-13, atol=0)
    repairs = []
    with mock.patch.object(_affine, "affine_loop", lambda *a: repairs.append(1) or affine_loop(*a)):
        assert _same(affine_array(c, u, 30_000.0), exact)
    plan = _affine._plan(c, len(u))
    assert plan is not None
    assert len(repairs) <= max(2, len(u) // plan[1] // 100) + 1  # + the tail

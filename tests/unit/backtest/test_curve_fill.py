"""``CurveFill``: the skipped stretches' curve values, written in batches, are those
each stretch's own numpy operations give, bit for bit."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import numpy as np
import pytest

from kinetic.backtest import stretch
from kinetic.backtest.stretch import SHORT_STRETCH, CurveFill, close_extremes


def _stretches(n: int, rng: random.Random) -> list[tuple[int, int]]:
    """Disjoint ranges in order; some adjacent (a run cut by ``MAX_RUN``)."""
    out, g = [], rng.randint(0, 3)
    while True:
        h = g + rng.randint(1, 60)
        if h > n:
            return out
        out.append((g, h))
        g = h + (0 if rng.random() < 0.2 else rng.randint(1, 3))


@pytest.mark.parametrize("seed", range(6))
def test_batches_write_what_each_stretch_would(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(stretch, "FLUSH_BARS", rng.choice([1, 50, 1 << 16]))
    n = 3000
    close = np.array([rng.uniform(1, 1e5) for _ in range(n)])
    close[rng.randrange(n)] = np.nan
    want_eq, want_ex = np.full(n, -1.0), np.zeros(n, np.bool_)
    got_eq, got_ex = want_eq.copy(), want_ex.copy()
    fill = CurveFill(got_eq, got_ex, close)
    for g, h in _stretches(n, rng):
        if rng.random() < 0.5:
            value = rng.uniform(-1e12, 1e12)
            want_eq[g:h] = value
            fill.flat(g, h, value)
        else:
            scale, base = rng.uniform(1e-3, 1e6), 0.0 + rng.uniform(-1e12, 1e12)
            out = scale * close[g:h]  # ``stretch_values``' own operations
            out += base
            want_eq[g:h], want_ex[g:h] = out, True
            fill.held(g, h, scale, base)
    fill.flush()
    assert want_eq.tobytes() == got_eq.tobytes()  # bit for bit, nan included
    assert (want_ex == got_ex).all()
    fill.flush()  # nothing pending: nothing changes
    assert want_eq.tobytes() == got_eq.tobytes()


def test_the_extremes_are_those_of_the_values() -> None:
    """``scale * c + base`` with ``scale > 0`` is monotonic in ``c``: the values at the
    lowest and highest close are the lowest and highest values."""
    rng = random.Random(3)
    for _ in range(2000):
        close = np.array([rng.uniform(1, 1e5) for _ in range(rng.randint(1, 50))])
        scale, base = rng.uniform(1e-9, 1e9), 0.0 + rng.uniform(-1e13, 1e13)
        out = scale * close
        out += base
        assert scale * float(close.min()) + base == out.min()
        assert scale * float(close.max()) + base == out.max()
        assert scale * close.item(-1) + base == out.item(-1)


@pytest.mark.parametrize("length", [1, 5, SHORT_STRETCH, SHORT_STRETCH + 1, 300])
def test_close_extremes_are_the_reductions_nan_included(length: int) -> None:
    """Short ranges compare Python floats, long ones reduce: the same answers, and a
    nan anywhere in the range gives nan (a skip refused), as the reductions do."""
    rng = random.Random(length)
    close = np.array([rng.uniform(1, 1e5) for _ in range(1000)])
    clean = SimpleNamespace(_nan_free={})
    for _ in range(200):
        g = rng.randrange(1000 - length + 1)
        lo, hi = close_extremes(clean, 0, close, g, g + length)  # type: ignore[arg-type]
        assert (lo, hi) == (close[g : g + length].min(), close[g : g + length].max())
    close[500] = np.nan
    dirty = SimpleNamespace(_nan_free={})
    for g in range(max(0, 501 - length), 501):
        lo, hi = close_extremes(dirty, 0, close, g, g + length)  # type: ignore[arg-type]
        assert math.isnan(lo)
        assert math.isnan(hi)
    assert dirty._nan_free == ({0: False} if length <= SHORT_STRETCH else {})

"""Incremental O(1) indicator states equal the vectorised functions after warm-up."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.strategy.indicators import (
    ADXState,
    ATRState,
    BollingerState,
    DonchianState,
    EMAState,
    KeltnerState,
    MACDState,
    OBVState,
    RollingExtreme,
    RSIState,
    SMAState,
    StochasticState,
    VWAPState,
    adx,
    atr,
    bollinger,
    donchian,
    ema,
    keltner,
    macd,
    obv,
    rsi,
    sma,
    stochastic,
    vwap,
)

RTOL = 1e-9
ATOL = 1e-9  # oscillators (RSI, DI, ADX) live on 0..100 and can be exactly 0


@st.composite
def ohlc(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=1, max_value=160))
    start = draw(st.floats(min_value=1.0, max_value=1e5))
    steps = draw(st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=n, max_size=n))
    spreads = draw(
        st.lists(st.floats(min_value=0.0, max_value=0.03), min_size=2 * n, max_size=2 * n)
    )
    close = start * np.cumprod(1.0 + np.asarray(steps))
    up, down = np.asarray(spreads[:n]), np.asarray(spreads[n:])
    return close * (1.0 + up), close * (1.0 - down), close


def _series(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _same(incremental: np.ndarray, vectorised: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(incremental), np.isnan(vectorised))
    np.testing.assert_allclose(incremental, vectorised, rtol=RTOL, atol=ATOL)


windows = st.integers(min_value=1, max_value=30)
PROPS = settings(max_examples=100, deadline=None)


@PROPS
@given(ohlc(), windows)
def test_ema_sma_rsi_incremental_equal_vectorised(
    bars: tuple[np.ndarray, np.ndarray, np.ndarray], n: int
) -> None:
    _, _, close = bars
    e, s, r = EMAState(n), SMAState(n), RSIState(n)
    _same(_series([e.update(c) for c in close]), ema(close, n))
    _same(_series([s.update(c) for c in close]), sma(close, n))
    _same(_series([r.update(c) for c in close]), rsi(close, n))


@PROPS
@given(ohlc(), windows)
def test_atr_adx_incremental_equal_vectorised(
    bars: tuple[np.ndarray, np.ndarray, np.ndarray], n: int
) -> None:
    high, low, close = bars
    a = ATRState(n)
    _same(_series([a.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]),
          atr(high, low, close, n))  # fmt: skip
    state = ADXState(n)
    values = [state.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]
    ref = adx(high, low, close, n)
    ready = ~np.isnan(ref.adx)
    _same(_series([None if v is None else v.adx for v in values]), ref.adx)
    _same(_series([None if v is None else v.plus_di for v in values]),
          np.where(ready, ref.plus_di, np.nan))  # fmt: skip
    _same(_series([None if v is None else v.minus_di for v in values]),
          np.where(ready, ref.minus_di, np.nan))  # fmt: skip


@PROPS
@given(ohlc(), st.integers(2, 15), st.integers(1, 15), st.integers(1, 12))
def test_macd_bollinger_incremental_equal_vectorised(
    bars: tuple[np.ndarray, np.ndarray, np.ndarray], fast: int, extra: int, signal: int
) -> None:
    _, _, close = bars
    slow = fast + extra
    state = MACDState(fast, slow, signal)
    values = [state.update(c) for c in close]
    ref = macd(close, fast, slow, signal)
    _same(_series([None if v is None else v.hist for v in values]), ref.hist)
    _same(_series([None if v is None else v.line for v in values]),
          np.where(np.isnan(ref.signal), np.nan, ref.line))  # fmt: skip
    bb_state = BollingerState(fast, 2.0)
    bands = [bb_state.update(c) for c in close]
    ref_bb = bollinger(close, fast, 2.0)
    _same(_series([None if v is None else v.upper for v in bands]), ref_bb.upper)
    _same(_series([None if v is None else v.lower for v in bands]), ref_bb.lower)


def test_long_series_incremental_matches_blocked_recurrence() -> None:
    """Exercise the blocked (matrix) path of the vectorised recurrence, > 64 points."""
    rng = np.random.default_rng(7)
    close = 50.0 + np.cumsum(rng.normal(0, 0.5, 5_000))
    high, low = close + rng.random(5_000), close - rng.random(5_000)
    state = ADXState(14)
    values = [state.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]
    _same(_series([None if v is None else v.adx for v in values]), adx(high, low, close).adx)
    e = EMAState(50)
    _same(_series([e.update(c) for c in close]), ema(close, 50))


@st.composite
def ohlcv(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    high, low, close = draw(ohlc())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    zero_share = draw(st.sampled_from([0.0, 0.5, 0.9]))
    volume = 10.0 ** rng.uniform(-3.0, 6.0, len(close))
    volume[rng.random(len(close)) < zero_share] = 0.0
    return high, low, close, np.asarray(volume)


@PROPS
@given(ohlcv(), windows, st.integers(1, 6))
def test_stochastic_donchian_keltner_incremental_equal_vectorised(
    bars: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], n: int, smooth: int
) -> None:
    high, low, close, _ = bars
    rows = list(zip(high, low, close, strict=True))
    so = StochasticState(n, smooth)
    values = [so.update(h, lo, c) for h, lo, c in rows]
    ref = stochastic(high, low, close, n, smooth)
    _same(_series([None if v is None else v.d for v in values]), ref.d)
    _same(_series([None if v is None else v.k for v in values]),
          np.where(np.isnan(ref.d), np.nan, ref.k))  # fmt: skip
    dc = DonchianState(n)
    chans = [dc.update(h, lo) for h, lo, _ in rows]
    ref_dc = donchian(high, low, n)
    for i, ref_band in enumerate((ref_dc.upper, ref_dc.middle, ref_dc.lower)):
        _same(_series([None if v is None else v[i] for v in chans]), ref_band)
    kc = KeltnerState(n, smooth + 1)
    kcs = [kc.update(h, lo, c) for h, lo, c in rows]
    ref_kc = keltner(high, low, close, n, smooth + 1)
    for i, ref_band in enumerate((ref_kc.upper, ref_kc.middle, ref_kc.lower)):
        _same(_series([None if v is None else v[i] for v in kcs]), ref_band)


@PROPS
@given(ohlcv(), windows)
def test_obv_vwap_incremental_equal_vectorised(
    bars: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], n: int
) -> None:
    high, low, close, volume = bars
    o, w = OBVState(), VWAPState(n)
    got_obv = [o.update(c, v) for c, v in zip(close, volume, strict=True)]
    np.testing.assert_allclose(got_obv, obv(close, volume), rtol=RTOL, atol=1e-6)
    got = [w.update(h, lo, c, v) for h, lo, c, v in zip(high, low, close, volume, strict=True)]
    ref = vwap(high, low, close, volume, n)
    np.testing.assert_array_equal(np.isnan(_series(got)), np.isnan(ref))
    # volumes span 9 decades: a running sum keeps a few ulps of the largest one it saw
    np.testing.assert_allclose(_series(got), ref, rtol=1e-7)


def test_rolling_extreme_is_amortised_constant() -> None:
    """A falling series keeps the deque at one item per window, never more than ``n``."""
    state = RollingExtreme(5, maximum=True)
    for i in range(1_000):
        state.update(float(-i if i % 2 else i))
        assert len(state._items) <= 5

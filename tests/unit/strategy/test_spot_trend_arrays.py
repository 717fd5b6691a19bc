"""``spot_trend``'s precomputed series gives the per-bar signals exactly.

``spot_trend_arrays`` computes every bar's features and score components at once; in a
backtest the strategy keeps them as its state (``action_bars``), a stepped bar looks its
components up and a skipped stretch moves an index. Checked against a strategy fed every
candle (the reference: the live daemon's path), on real 1m and 5m BTC / ETH candles
(the May-2021 crash included) and, with Hypothesis, on random slices, prices on a coarse
grid (equal EMAs, flat closes) and random parameters; a candle or a stretch that is not
the series' next bar falls back to the incremental state.

Mutants these tests kill (each tried by hand): the crossing tested against the bar's own
EMAs instead of the previous bar's; the first fed block's previous EMAs taken from the
wrong bar; the warm flag left out (warm-up bars scored); ``move`` one bar short;
``is_next`` not comparing the close (or the high, the low); the rebuilt incremental
state skipping the first bar or the last; the LONG mask without the half point of
rounding; the adx_strength component without the +DI > -DI test; the rsi_band half
points not given at RSI 75; the cold bars one short; a block not passing its last EMAs
on to the next.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import Candle, Direction, Signal
from kinetic.marketdata.files import CandleArrays, read_candles
from kinetic.strategy import spot_trend_arrays as sta
from kinetic.strategy.features import FeatureParams, Features
from kinetic.strategy.replay import bar_candles
from kinetic.strategy.spot_trend import SpotTrendStrategy, score_long
from tests.unit.backtest.bt_kit import CRASH_5M

SYMBOL = "BTCUSDT"
DATA = Path(CRASH_5M).parent
BTC_1M = DATA / "binance_BTCUSDT_1m_2021-04-20_2021-05-20.csv.gz"
ETH_1M = DATA / "binance_ETHUSDT_1m_2021-04-20_2021-05-20.csv.gz"
_CACHE: dict[Path, CandleArrays] = {}


def _read(path: Path) -> CandleArrays:
    if path not in _CACHE:
        _CACHE[path] = read_candles(path, SYMBOL)
    return _CACHE[path]


def _cut(a: CandleArrays, lo: int, n: int) -> CandleArrays:
    s = slice(lo, lo + n)
    return CandleArrays(SYMBOL, a.interval_ms, a.open_time_ms[s], a.open[s], a.high[s],
                        a.low[s], a.close[s], a.volume[s])  # fmt: skip


def _grid(seed: int, n: int) -> CandleArrays:
    """Closes on a coarse grid with flat runs: equal EMAs, zero changes and ranges."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-2, 3, n) * (rng.random(n) < 0.7)
    c = 100.0 + np.cumsum(steps).astype(np.float64)
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) + rng.integers(0, 2, n)
    lo = np.minimum(o, c) - rng.integers(0, 2, n)
    t = np.arange(n, dtype=np.int64) * 60_000
    return CandleArrays(SYMBOL, 60_000, t, o, h, lo, c, np.ones(n))


def _reference(strategy: SpotTrendStrategy, arrays: CandleArrays) -> list[Signal]:
    return [strategy.on_candle(c) for c in bar_candles(arrays)]


def _looked_up(
    strategy: SpotTrendStrategy, arrays: CandleArrays
) -> tuple[list[Signal], np.ndarray, np.ndarray]:
    may_long, may_short = strategy.action_bars(SYMBOL, arrays)
    assert SYMBOL in strategy._pre
    signals = [strategy.on_candle(c) for c in bar_candles(arrays)]
    assert SYMBOL not in strategy._states  # every bar looked up, no incremental state
    return signals, may_long, may_short


@pytest.mark.parametrize(
    ("path", "lo", "n", "min_confidence"),
    [
        (BTC_1M, 0, 43_000, 60),  # the run-up and the crash of 2021-05-19, 1m
        (ETH_1M, 20_000, 20_000, 45),
        (CRASH_5M, 36_000, 24_000, 70),  # Apr-Jul 2021, 5m
    ],
)
def test_looked_up_signals_are_the_per_bar_signals_on_real_data(
    path: Path, lo: int, n: int, min_confidence: int
) -> None:
    arrays = _cut(_read(path), lo, n)
    reference = _reference(SpotTrendStrategy(min_confidence), arrays)
    strategy = SpotTrendStrategy(min_confidence)
    signals, may_long, may_short = _looked_up(strategy, arrays)
    assert signals == reference  # direction, confidence, reason, components, atr, ...
    assert [s.components for s in signals] == [s.components for s in reference]
    assert strategy._pre[SYMBOL].values is None  # let go after the last bar
    longs = np.array([s.direction is Direction.LONG for s in reference])
    shorts = np.array([s.direction is Direction.SHORT for s in reference])
    warm = strategy.warmup + 1
    assert (may_long[:warm] & may_short[:warm]).all()  # cold bars: always stepped
    # past them the masks are the decisions (the sum's margin is 1e-6 points)
    assert (may_long[warm:] == longs[warm:]).all()
    assert (may_short[warm:] == shorts[warm:]).all()
    reasons = {s.reason for s in reference}
    assert "trend broken: fast EMA crossed below slow EMA" in reasons
    assert longs.sum() > 100
    assert shorts.sum() > 100


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 700),
    source=st.sampled_from(["grid", "btc", "eth"]),
    fast=st.integers(1, 40),
    extra=st.integers(1, 80),
    rsi_period=st.integers(2, 20),
    adx_period=st.integers(2, 20),
    min_confidence=st.integers(0, 100),
    skip=st.floats(0.0, 0.9),
    rows=st.integers(1, 64),
)
def test_looked_up_and_fast_forwarded_signals_on_random_slices_and_params(
    seed: int, n: int, source: str, fast: int, extra: int, rsi_period: int,
    adx_period: int, min_confidence: int, skip: float, rows: int,
) -> None:  # fmt: skip
    """Blocks of ``rows`` bars: a crossing at a block's first bar reads the bar before."""
    if source == "grid":
        arrays = _grid(seed, n)
    else:
        full = _read(BTC_1M if source == "btc" else ETH_1M)
        arrays = _cut(full, seed * 4 % (len(full) - n), n)

    def make() -> SpotTrendStrategy:
        return SpotTrendStrategy(min_confidence, fast, fast + extra, rsi_period, adx_period)

    reference = _reference(make(), arrays)
    longs = np.array([s.direction is Direction.LONG for s in reference], np.bool_)
    shorts = np.array([s.direction is Direction.SHORT for s in reference], np.bool_)
    skipper = make()
    with mock.patch.object(sta, "_ROWS", rows):
        may_long, may_short = skipper.action_bars(SYMBOL, arrays)
    assert not (longs & ~may_long).any()
    assert not (shorts & ~may_short).any()
    rng, i = random.Random(seed), 0
    while i < n:
        if rng.random() < skip:
            j = min(n, i + rng.randint(1, 60))
            skipper.fast_forward(SYMBOL, arrays, i, j)
            i = j
            continue
        assert skipper.on_candle(arrays.candle(i)) == reference[i]
        i += 1
    assert SYMBOL not in skipper._states


def _after_fallback(arrays: CandleArrays, cursor: int, odd: Candle, fed: SpotTrendStrategy) -> None:
    """``fed`` is at bar ``cursor`` of ``arrays`` (precomputed); it and a reference
    stepped over the same bars get the candle ``odd`` and then the bars after it."""
    reference = SpotTrendStrategy(60)
    for c in bar_candles(arrays, 0, cursor):
        reference.on_candle(c)
    assert fed.on_candle(odd) == reference.on_candle(odd)
    assert SYMBOL not in fed._pre
    assert SYMBOL in fed._states
    after = int(np.searchsorted(arrays.open_time_ms, odd.open_time_ms, side="right"))
    for c in bar_candles(arrays, after, after + 300):
        assert fed.on_candle(c) == reference.on_candle(c)


@pytest.mark.parametrize("field", ["close", "high", "low", "open_time_ms"])
@pytest.mark.parametrize("cursor", [1, 200, 451, 3_000])
def test_a_candle_that_is_not_the_next_bar_falls_back_to_the_incremental_state(
    field: str, cursor: int
) -> None:
    arrays = _cut(_read(BTC_1M), 27_000, 4_000)
    fed = SpotTrendStrategy(60)
    fed.action_bars(SYMBOL, arrays)
    i = 0
    while i < cursor:  # stepped bars and skipped stretches
        j = min(cursor, i + 37)
        fed.fast_forward(SYMBOL, arrays, i, j)
        i = j
        if i < cursor:
            fed.on_candle(arrays.candle(i))
            i += 1
    c = arrays.candle(cursor)
    if field == "open_time_ms":  # a later bar: the one after the next
        odd = arrays.candle(cursor + 1)
    elif field == "low":
        odd = dataclasses.replace(c, low=c.low - 25.0)
    else:
        odd = dataclasses.replace(c, **{field: getattr(c, field) + 25.0})
    _after_fallback(arrays, cursor, odd, fed)


def test_a_stretch_of_other_arrays_falls_back_to_the_incremental_state() -> None:
    arrays = _cut(_read(BTC_1M), 27_000, 3_000)
    copy = dataclasses.replace(arrays)  # the same bars, another series object
    reference, fed = SpotTrendStrategy(60), SpotTrendStrategy(60)
    fed.action_bars(SYMBOL, arrays)
    fed.fast_forward(SYMBOL, arrays, 0, 1_000)
    fed.fast_forward(SYMBOL, copy, 1_000, 1_500)
    assert SYMBOL not in fed._pre
    for c in bar_candles(arrays, 0, 1_500):
        reference.on_candle(c)
    for c in bar_candles(arrays, 1_500, 2_000):
        assert fed.on_candle(c) == reference.on_candle(c)


def test_a_symbol_with_a_state_keeps_stepping_it() -> None:
    """``action_bars`` after a candle (the live state exists): masks only, no series."""
    arrays = _cut(_read(BTC_1M), 0, 2_000)
    reference, fed = SpotTrendStrategy(60), SpotTrendStrategy(60)
    first = arrays.candle(0)
    assert fed.on_candle(first) == reference.on_candle(first)
    fed.action_bars(SYMBOL, arrays)
    assert SYMBOL not in fed._pre
    for c in bar_candles(arrays, 1, 2_000):
        assert fed.on_candle(c) == reference.on_candle(c)
    fed.reset(SYMBOL)
    fed.action_bars(SYMBOL, arrays)
    assert SYMBOL in fed._pre
    fed.reset(SYMBOL)
    assert SYMBOL not in fed._pre


def test_data_the_arrays_do_not_take_gets_the_superset_masks() -> None:
    arrays = _cut(_read(BTC_1M), 0, 1_000)
    p = FeatureParams(fast=100, slow=400)
    bad_price = dataclasses.replace(arrays, high=np.r_[arrays.high[:-1], np.inf])
    times = arrays.open_time_ms.copy()
    times[500] = times[499]
    bad_time = dataclasses.replace(arrays, open_time_ms=times)
    huge = dataclasses.replace(arrays, close=arrays.close * 1e100)
    assert sta.lookup(arrays, p, 60, 1.0) is not None
    for bad in (bad_price, bad_time, huge):
        assert sta.lookup(bad, p, 60, 1.0) is None
    strategy = SpotTrendStrategy(60)
    may_long, may_short = strategy.action_bars(SYMBOL, huge)
    assert SYMBOL not in strategy._pre
    assert may_long[:401].all()
    assert may_short[:401].all()
    reference = _reference(SpotTrendStrategy(60), huge)
    assert all(may_long[i] for i, s in enumerate(reference) if s.direction is Direction.LONG)
    assert all(may_short[i] for i, s in enumerate(reference) if s.direction is Direction.SHORT)


_PRICES = [0.0, 99.0, 100.0, 100.5, 101.0, -100.0]
_OSC = [0.0, 14.0, 15.0, 25.0, 35.0, 39.5, 40.0, 44.5, 45.0, 70.0, 70.5, 75.0, 75.5, 100.0]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            *(st.sampled_from(_PRICES) for _ in range(3)),
            st.sampled_from(_OSC),
            st.sampled_from(_OSC),
            st.sampled_from([-1.0, 0.0, 1.0]),
            *(st.sampled_from(_OSC) for _ in range(2)),
            *(st.sampled_from([None, *_PRICES]) for _ in range(2)),
        ),
        min_size=1,
        max_size=60,
    ),
    full_spread_pct=st.sampled_from([1.0, 0.5, 3.0]),
)
def test_the_vectorised_components_are_score_long(
    rows: list[tuple[float | None, ...]], full_spread_pct: float
) -> None:
    """Values on boundaries (RSI 40/45/70/75, ADX 15/35, +DI = -DI, equal EMAs, a zero
    slow EMA, a zero histogram): ``components`` against ``score_long`` bar by bar."""
    cols = list(zip(*rows, strict=True))
    arr = [np.array(c[:], np.float64) for c in cols[:8]]
    prev = [np.array([np.nan if v is None else v for v in c], np.float64) for c in cols[8:]]
    close, fast, slow, rsi, adx, hist, pdi, mdi = arr
    prev_fast, prev_slow = prev
    code, spread, strength, total = sta.components(
        close, fast, slow, rsi, adx, hist, pdi, mdi, (prev_fast, prev_slow), full_spread_pct
    )
    for i, (c, f_, s_, r, a, h, p, m, pf, ps) in enumerate(rows):
        f = Features(c, f_, s_, pf, ps, r, 1.0, a, p, m, h, 0.0, 0.0, 0.0)  # type: ignore[arg-type]
        want = score_long(f, full_spread_pct)
        k = int(code[i])
        got = {
            "ema_alignment": 25.0 if k & sta.ALIGNED else 0.0,
            "ema_spread": spread[i].item(),
            "above_slow": 15.0 if k & sta.ABOVE else 0.0,
            "rsi_band": sta.RSI_POINTS[k & (sta.RSI_HALF | sta.RSI_FULL)],
            "adx_strength": strength[i].item(),
            "macd_hist": 15.0 if k & sta.MACD_UP else 0.0,
        }
        assert got == want
        assert [str(v) for v in got.values()] == [str(v) for v in want.values()]  # -0.0
        folded = 0.0
        for v in want.values():  # left to right (sum's order up to Python 3.11)
            folded += v
        assert total[i].item() == folded
        assert abs(total[i].item() - sum(want.values())) < sta.SUM_TOL
        assert k & sta.WARM
        assert bool(k & sta.BROKEN) == (f.ema_fast < f.ema_slow and f.close < f.ema_slow)
        assert bool(k & sta.CROSSED) == f.crossed_below


@pytest.mark.parametrize("rows", [1, 7, 1_000])
def test_blocks_of_any_size_give_the_same_values(rows: int) -> None:
    """The feed runs in blocks; a block's first bar reads the EMAs of the bar before."""
    arrays = _cut(_read(ETH_1M), 5_000, 3_000)
    p = FeatureParams(fast=5, slow=20)
    whole = sta.lookup(arrays, p, 50, 1.0)
    with mock.patch.object(sta, "_ROWS", rows):
        blocks = sta.lookup(arrays, p, 50, 1.0)
    assert whole is not None
    assert blocks is not None
    (wl, ws, w), (bl, bs, b) = whole, blocks
    assert (wl == bl).all()
    assert (ws == bs).all()
    assert (w.code == b.code).all()
    assert ((w.code & sta.CROSSED) != 0).sum() > 20
    for x, y in ((w.ema_spread, b.ema_spread), (w.adx_strength, b.adx_strength), (w.atr, b.atr)):
        assert np.array_equal(x, y, equal_nan=True)

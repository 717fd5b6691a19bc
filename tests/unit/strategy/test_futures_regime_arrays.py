"""``futures_regime``'s precomputed series gives the per-bar signals exactly.

As ``test_spot_trend_arrays``: ``futures_regime_arrays`` computes every bar's features
at once; in a backtest the strategy keeps them (``action_bars``), a stepped bar looks
them up (the Bollinger bands from the series' last closes) and a skipped stretch moves
an index. Checked against a strategy fed every candle, on real 1m / 5m candles (the
May-2021 crash included) and with Hypothesis over random slices and parameters.

Mutants these tests kill (each tried by hand): the bands read one close late; the
looked-up side from the EMAs only (DIs ignored); the MACD agreement of a SHORT read as
a positive histogram; the trend masks without the half point of rounding or with the
transitional threshold left out; the reversion masks with the band margin the wrong
way; ``move`` one bar short; the rebuilt state skipping the first bar. Equivalent: the
di_spread component without its zero-sum guard (both DIs 0: no side, not read), the
trend masks without the SIDEWAYS exclusion (ADX below ``adx_sideways`` scores at most
70 there, under the 85 a non-trending bar needs).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import Direction, Regime, Signal
from kinetic.marketdata.files import CandleArrays
from kinetic.strategy import futures_regime_arrays as fra
from kinetic.strategy.base import to_confidence
from kinetic.strategy.features import Features
from kinetic.strategy.futures_regime import FuturesRegimeStrategy, RegimeDetector, score_trend
from kinetic.strategy.replay import bar_candles
from kinetic.strategy.spot_trend_arrays import SUM_TOL
from tests.unit.strategy.test_spot_trend_arrays import (
    BTC_1M,
    CRASH_5M,
    ETH_1M,
    SYMBOL,
    _cut,
    _grid,
    _read,
)


def _reference(strategy: FuturesRegimeStrategy, arrays: CandleArrays) -> list[Signal]:
    return [strategy.on_candle(c) for c in bar_candles(arrays)]


@pytest.mark.parametrize(
    ("path", "lo", "n", "min_confidence"),
    [
        (BTC_1M, 0, 43_000, 50),  # the run-up and the crash of 2021-05-19, 1m
        (ETH_1M, 20_000, 20_000, 30),
        (CRASH_5M, 36_000, 24_000, 70),  # Apr-Jul 2021, 5m
    ],
)
def test_looked_up_signals_are_the_per_bar_signals_on_real_data(
    path: Path, lo: int, n: int, min_confidence: int
) -> None:
    arrays = _cut(_read(path), lo, n)
    reference = _reference(FuturesRegimeStrategy(min_confidence), arrays)
    strategy = FuturesRegimeStrategy(min_confidence)
    may_long, may_short = strategy.action_bars(SYMBOL, arrays)
    assert SYMBOL in strategy._pre
    signals = [strategy.on_candle(c) for c in bar_candles(arrays)]
    assert SYMBOL not in strategy._states  # every bar looked up
    assert signals == reference  # direction, confidence, regime, reason, components, atr
    assert [s.components for s in signals] == [s.components for s in reference]
    longs = np.array([s.direction is Direction.LONG for s in reference])
    shorts = np.array([s.direction is Direction.SHORT for s in reference])
    assert not (longs & ~may_long).any()
    assert not (shorts & ~may_short).any()
    assert may_long.sum() < 3 * longs.sum() + strategy.warmup + 50  # not much of a superset
    acted = {(s.regime, s.direction) for s in reference if s.direction is not Direction.FLAT}
    assert (Regime.TRENDING, Direction.LONG) in acted
    assert (Regime.TRENDING, Direction.SHORT) in acted
    if min_confidence <= 60:  # mean reversion scores at most 60
        assert (Regime.SIDEWAYS, Direction.LONG) in acted
        assert (Regime.SIDEWAYS, Direction.SHORT) in acted


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 700),
    source=st.sampled_from(["grid", "btc", "eth"]),
    fast=st.integers(1, 40),
    extra=st.integers(1, 80),
    adx_period=st.integers(2, 20),
    bb_period=st.integers(2, 30),
    bb_std=st.sampled_from([1.0, 2.0, 2.5]),
    sideways=st.sampled_from([10.0, 15.0, 20.0]),
    trending=st.sampled_from([20.5, 25.0, 30.0]),
    min_confidence=st.integers(0, 100),
    skip=st.floats(0.0, 0.9),
)
def test_looked_up_and_fast_forwarded_signals_on_random_slices_and_params(
    seed: int, n: int, source: str, fast: int, extra: int, adx_period: int, bb_period: int,
    bb_std: float, sideways: float, trending: float, min_confidence: int, skip: float,
) -> None:  # fmt: skip
    if source == "grid":
        arrays = _grid(seed, n)
    else:
        full = _read(BTC_1M if source == "btc" else ETH_1M)
        arrays = _cut(full, seed * 4 % (len(full) - n), n)

    def make() -> FuturesRegimeStrategy:
        return FuturesRegimeStrategy(min_confidence, trending, sideways, fast, fast + extra,
                                     14, adx_period, bb_period, bb_std)  # fmt: skip

    reference = _reference(make(), arrays)
    longs = np.array([s.direction is Direction.LONG for s in reference], np.bool_)
    shorts = np.array([s.direction is Direction.SHORT for s in reference], np.bool_)
    skipper = make()
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


_OSC = [0.0, 10.0, 14.0, 15.0, 25.0, 35.0, 45.0, 60.0, 100.0]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            *(st.sampled_from([99.0, 100.0, 101.0]) for _ in range(2)),
            *(st.sampled_from(_OSC) for _ in range(3)),
            st.sampled_from([-1.0, 0.0, 1.0]),
        ),
        min_size=1,
        max_size=60,
    ),
    min_confidence=st.sampled_from([0, 50, 60, 85, 90, 100]),
)
def test_the_vectorised_trend_branch_is_score_trend(
    rows: list[tuple[float, ...]], min_confidence: int
) -> None:
    """Boundaries (equal EMAs and DIs, both DIs 0, ADX at the thresholds, a zero
    histogram): ``trend`` against ``trend_side`` / ``score_trend`` bar by bar."""
    detector = RegimeDetector(25.0, 15.0)
    fast, slow, adx, pdi, mdi, hist = (np.array(c, np.float64) for c in zip(*rows, strict=True))
    code, di_spread, may_long, may_short = fra.trend(
        fast, slow, adx, hist, pdi, mdi, detector, min_confidence
    )
    for i, (f_, s_, a, p, m, h) in enumerate(rows):
        f = Features(100.0, f_, s_, None, None, 50.0, 1.0, a, p, m, h, 0.0, 0.0, 0.0)
        k = int(code[i])
        long_ = bool(k & fra.DI_UP and k & fra.EMA_UP)
        short = bool(k & fra.DI_DOWN and k & fra.EMA_DOWN)
        side = Direction.LONG if long_ else Direction.SHORT if short else Direction.FLAT
        want = score_trend(f, side, detector)
        if side is not Direction.FLAT:
            assert di_spread[i].item() == want["di_spread"]
            assert bool(k & (fra.MACD_UP if long_ else fra.MACD_DOWN)) == (
                want["macd_agreement"] > 0
            )
        regime = detector.detect(a)
        threshold = min_confidence if regime is Regime.TRENDING else max(min_confidence, 85)
        total = sum(want.values())
        could = regime is not Regime.SIDEWAYS and total >= threshold - 0.5 - SUM_TOL
        assert bool(may_long[i]) == (long_ and could)
        assert bool(may_short[i]) == (short and could)
        if to_confidence(total) >= threshold and regime is not Regime.SIDEWAYS:
            assert could  # a superset of on_candle's entries
        p_, m_ = (f.plus_di, f.minus_di), (f.ema_fast, f.ema_slow)
        assert long_ == (p_[0] > p_[1] and m_[0] > m_[1])
        assert short == (p_[1] > p_[0] and m_[0] < m_[1])


def test_a_candle_that_is_not_the_next_bar_falls_back_to_the_incremental_state() -> None:
    arrays = _cut(_read(BTC_1M), 27_000, 4_000)
    for cursor in (1, 300, 2_000):
        fed, reference = FuturesRegimeStrategy(30), FuturesRegimeStrategy(30)
        fed.action_bars(SYMBOL, arrays)
        fed.fast_forward(SYMBOL, arrays, 0, cursor)
        for c in bar_candles(arrays, 0, cursor):
            reference.on_candle(c)
        c = arrays.candle(cursor)
        odd = dataclasses.replace(c, close=c.close + 25.0, high=c.high + 25.0)
        assert fed.on_candle(odd) == reference.on_candle(odd)
        assert SYMBOL not in fed._pre
        for c in bar_candles(arrays, cursor + 1, cursor + 400):
            assert fed.on_candle(c) == reference.on_candle(c)


def test_data_the_arrays_do_not_take_and_a_symbol_with_a_state() -> None:
    arrays = _cut(_read(BTC_1M), 0, 1_500)
    huge = dataclasses.replace(arrays, close=arrays.close * 1e100)
    strategy = FuturesRegimeStrategy(30)
    strategy.action_bars(SYMBOL, huge)
    assert SYMBOL not in strategy._pre  # the vectorised masks, the incremental state
    fed, reference = FuturesRegimeStrategy(30), FuturesRegimeStrategy(30)
    first = arrays.candle(0)
    assert fed.on_candle(first) == reference.on_candle(first)
    fed.action_bars(SYMBOL, arrays)
    assert SYMBOL not in fed._pre
    for c in bar_candles(arrays, 1, 1_500):
        assert fed.on_candle(c) == reference.on_candle(c)
    fed.reset(SYMBOL)
    assert SYMBOL not in fed._states


def test_a_close_on_a_flat_band_is_marked() -> None:
    """A fall, then flat closes with ranges alternating up and down: the bands close on
    the price (std 0), the RSI stays low and the ADX decays into SIDEWAYS, so the close
    sits exactly on the lower band and ``on_candle`` goes LONG there; the masks compare
    it with a margin, so they mark it."""
    n = 400
    close = np.r_[np.linspace(200.0, 100.0, 100), np.full(n - 100, 100.0)]
    odd = np.arange(n) % 2 == 1
    high = np.where(np.arange(n) < 100, close + 0.5, close + np.where(odd, 1.0, 0.25))
    low = np.where(np.arange(n) < 100, close, close - np.where(odd, 0.25, 1.0))
    t = np.arange(n, dtype=np.int64) * 60_000
    arrays = CandleArrays(SYMBOL, 60_000, t, close, high, low, close, np.ones(n))

    def make() -> FuturesRegimeStrategy:
        return FuturesRegimeStrategy(30, fast=5, slow=20)

    reference = _reference(make(), arrays)
    on_band = [i for i, s in enumerate(reference) if s.direction is Direction.LONG
               and s.regime is Regime.SIDEWAYS]  # fmt: skip
    assert len(on_band) > 10
    may_long, _ = make().action_bars(SYMBOL, arrays)
    assert may_long[on_band].all()

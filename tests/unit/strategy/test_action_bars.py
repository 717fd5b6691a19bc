"""Batch ``feed`` equals ``update`` bit for bit; action masks cover every real signal;
a fast-forwarded strategy gives the very signals a stepped one gives (issue 13)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import Direction
from kinetic.marketdata.files import CandleArrays, read_candles
from kinetic.strategy.confluence import ConfluenceStrategy
from kinetic.strategy.futures_regime import FuturesRegimeStrategy
from kinetic.strategy.indicators import (
    ADXState,
    ATRState,
    BollingerState,
    EMAState,
    MACDState,
    RSIState,
)
from kinetic.strategy.smc import SMCStrategy
from kinetic.strategy.spot_trend import SpotTrendStrategy
from tests.unit.backtest.bt_kit import CRASH_5M


def _walk(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), 2)
    high = np.round(close * (1 + np.abs(rng.normal(0, 0.004, n))), 2)
    low = np.round(close * (1 - np.abs(rng.normal(0, 0.004, n))), 2)
    flat = slice(n // 3, n // 3 + 60)  # a flat stretch: zero ranges and changes
    close[flat] = high[flat] = low[flat] = close[n // 3]
    return high, low, close


def _states() -> list[object]:
    return [EMAState(20), RSIState(14), ATRState(14), ADXState(14), MACDState(), BollingerState()]


def _step(states: list[object], h: float, lo: float, c: float) -> None:
    ema, rsi, atr, adx, macd, bb = states
    ema.update(c)  # type: ignore[attr-defined]
    rsi.update(c)  # type: ignore[attr-defined]
    atr.update(h, lo, c)  # type: ignore[attr-defined]
    adx.update(h, lo, c)  # type: ignore[attr-defined]
    macd.update(c)  # type: ignore[attr-defined]
    bb.update(c)  # type: ignore[attr-defined]


def _fields(state: object) -> dict[str, object]:
    out = {}
    for name in type(state).__slots__:  # type: ignore[attr-defined]
        value = getattr(state, name)
        out[name] = _fields(value) if hasattr(type(value), "__slots__") else value
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), chunks=st.lists(st.integers(1, 150), min_size=1, max_size=8))
def test_feed_leaves_every_state_exactly_as_update(seed: int, chunks: list[int]) -> None:
    n = 60 + sum(chunks)
    high, low, close = _walk(seed, n)
    stepped, fed = _states(), _states()
    for i in range(60):
        for s in (stepped, fed):
            _step(s, high[i].item(), low[i].item(), close[i].item())
    i = 60
    for size in chunks:
        for k in range(i, i + size):
            _step(stepped, high[k].item(), low[k].item(), close[k].item())
        part = slice(i, i + size)
        ema, rsi, atr, adx, macd, bb = fed
        ema.feed(close[part])  # type: ignore[attr-defined]
        rsi.feed(close[part])  # type: ignore[attr-defined]
        atr.feed(high[part], low[part], close[part])  # type: ignore[attr-defined]
        adx.feed(high[part], low[part], close[part])  # type: ignore[attr-defined]
        macd.feed(close[part])  # type: ignore[attr-defined]
        bb.feed(close[part])  # type: ignore[attr-defined]
        for a, b in zip(stepped, fed, strict=True):
            fa, fb = _fields(a), _fields(b)
            assert fa == fb
            assert {k: type(v) for k, v in fa.items()} == {k: type(v) for k, v in fb.items()}
        i += size


def _crash_slice(n: int) -> CandleArrays:
    a = read_candles(CRASH_5M, "BTCUSDT")
    lo = 40_000  # April-May 2021: the run-up and the crash
    return CandleArrays(
        a.symbol, a.interval_ms, a.open_time_ms[lo : lo + n], a.open[lo : lo + n],
        a.high[lo : lo + n], a.low[lo : lo + n], a.close[lo : lo + n], a.volume[lo : lo + n],
    )  # fmt: skip


MAKERS = {
    "spot_trend_60": lambda: SpotTrendStrategy(60),
    "spot_trend_30": lambda: SpotTrendStrategy(30),
    "futures_regime_50": lambda: FuturesRegimeStrategy(50),
    "futures_regime_0": lambda: FuturesRegimeStrategy(0),
    "smc_0": lambda: SMCStrategy(0),  # exact masks from the whole-series plan (smc_arrays)
    "smc_60": lambda: SMCStrategy(60),
    "confluence_0": lambda: ConfluenceStrategy(0),  # exact masks, vectorised
    "confluence_30": lambda: ConfluenceStrategy(30),
    "confluence_60": lambda: ConfluenceStrategy(60),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_masks_cover_every_signal_and_fast_forward_gives_the_same_signals(name: str) -> None:
    arrays = _crash_slice(6_000)
    make = MAKERS[name]
    reference = make()
    signals = [reference.on_candle(arrays.candle(i)) for i in range(len(arrays))]
    may_long, may_short = make().action_bars("BTCUSDT", arrays)
    longs = np.array([s.direction is Direction.LONG for s in signals])
    shorts = np.array([s.direction is Direction.SHORT for s in signals])
    assert not (longs & ~may_long).any()
    assert not (shorts & ~may_short).any()
    assert may_long.sum() < len(arrays)  # not everything: something can be skipped
    rng = random.Random(name)
    skipper, i, checked = make(), 0, 0
    while i < len(arrays):
        if i > skipper.warmup and rng.random() < 0.4:
            j = min(len(arrays), i + rng.randint(1, 200))
            skipper.fast_forward("BTCUSDT", arrays, i, j)
            i = j
            continue
        assert skipper.on_candle(arrays.candle(i)) == signals[i]
        checked += 1
        i += 1
    assert checked > 100


def test_confluence_at_zero_confidence_marks_exactly_the_entries() -> None:
    """min_confidence 0: nearly every bar is an entry, LONG or SHORT; the masks say which
    (an open long is not stepped on LONG bars), exactly (test_confluence_arrays)."""
    arrays = _crash_slice(2_000)
    may_long, may_short = ConfluenceStrategy(0).action_bars("BTCUSDT", arrays)
    assert not (may_long & may_short).any()
    assert 0.3 < may_long.mean() < 0.7
    assert (may_long | may_short)[100:].mean() > 0.95

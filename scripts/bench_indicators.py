"""Benchmark the indicators: vectorised over 500k bars, incremental per candle.

Usage: ``python scripts/bench_indicators.py [--bars N] [--repeat R]``. Prints the best
and the median of R runs per vectorised indicator (EMA 20, RSI 14, ATR 14, ADX 14,
MACD 12/26/9), the same for the five run back to back, and the mean per-candle cost of
updating the five incremental states together.

The vectorised code keeps its temporaries chunk-sized and its BLAS products below
OpenBLAS' threading thresholds, so no malloc tuning or thread pinning is needed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from kinetic.strategy.indicators import (
    ADXState,
    ATRState,
    EMAState,
    MACDState,
    RSIState,
    adx,
    atr,
    ema,
    macd,
    rsi,
)


def timings_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return ``(best, median)`` wall time of ``repeat`` calls, in milliseconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs) * 1e3, statistics.median(runs) * 1e3


def synthetic(bars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, bars)))
    high = close * (1.0 + rng.random(bars) * 0.003)
    low = close * (1.0 - rng.random(bars) * 0.003)
    return high, low, close


def bench_vectorised(high: np.ndarray, low: np.ndarray, close: np.ndarray, repeat: int) -> None:
    cases: dict[str, Callable[[], object]] = {
        "ema(20)": lambda: ema(close, 20),
        "rsi(14)": lambda: rsi(close, 14),
        "atr(14)": lambda: atr(high, low, close, 14),
        "adx(14)": lambda: adx(high, low, close, 14),
        "macd(12,26,9)": lambda: macd(close),
    }
    print(f"vectorised, {len(close):,} bars ({repeat} runs):     best    median")
    for name, fn in cases.items():
        best, median = timings_ms(fn, repeat)
        print(f"  {name:<14} {best:8.2f} ms {median:8.2f} ms")

    def all_five() -> None:
        for fn in cases.values():
            fn()

    best, median = timings_ms(all_five, repeat)
    print(f"  {'all five':<14} {best:8.2f} ms {median:8.2f} ms")


def bench_incremental(high: np.ndarray, low: np.ndarray, close: np.ndarray, bars: int) -> None:
    h, lo, c = high[:bars].tolist(), low[:bars].tolist(), close[:bars].tolist()
    e, r, a, x, m = EMAState(20), RSIState(14), ATRState(14), ADXState(14), MACDState()
    start = time.perf_counter()
    for i in range(bars):
        cl = c[i]
        e.update(cl)
        r.update(cl)
        a.update(h[i], lo[i], cl)
        x.update(h[i], lo[i], cl)
        m.update(cl)
    per_candle_us = (time.perf_counter() - start) / bars * 1e6
    print(f"incremental, all five states, {bars:,} candles: {per_candle_us:.2f} us/candle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--incremental-bars", type=int, default=100_000)
    args = parser.parse_args()
    high, low, close = synthetic(args.bars)
    bench_vectorised(high, low, close, args.repeat)
    bench_incremental(high, low, close, min(args.incremental_bars, args.bars))


if __name__ == "__main__":
    main()

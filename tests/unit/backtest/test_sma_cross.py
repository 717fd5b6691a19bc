"""sma_cross: crossovers counted by hand on small series, long-only and long/short."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinetic.backtest.options import BacktestOptions
from kinetic.domain import Candle, Direction, Signal
from kinetic.marketdata.files import CandleArrays
from kinetic.strategy.registry import available
from kinetic.strategy.sma_cross import SmaCrossStrategy, _mean, _true_ranges
from tests.unit.backtest.bt_kit import MINUTE_MS, T0_MS, run_async, write_candles

# fast=SMA2, slow=SMA3; fast - slow from bar 2 on (worked by hand):
# bar 2: 0 | 3: +0.5 | 4: +1.5 | 5: +0.33 | 6: -2 (cross down) | 7: -1.33 | 8: +0.67 (up)
# 9: +2 | 10: +1.33 | 11: -1 (down) | 12: -2.67 | 13: -1.33 | 14: 0
ZIGZAG = [10, 10, 10, 13, 16, 12, 8, 8, 12, 16, 16, 10, 6, 6, 6]


def _signals(closes: list[float], **kw: object) -> list[Direction]:
    s = SmaCrossStrategy(2, 3, **kw)  # type: ignore[arg-type]
    out = []
    for i, c in enumerate(closes):
        t = T0_MS + i * MINUTE_MS
        out.append(s.on_candle(Candle("BTCUSDT", t, t + MINUTE_MS - 1, c, c, c, c, 1.0)).direction)
    return out


def test_sma_cross_is_registered() -> None:
    assert "sma_cross" in available()


def test_crosses_on_hand_built_series_match_a_hand_count() -> None:
    sig = _signals([float(c) for c in ZIGZAG])
    ups = [i for i, d in enumerate(sig) if d is Direction.LONG]
    downs = [i for i, d in enumerate(sig) if d is Direction.SHORT]
    # long-only: a signal on the cross bar only (bar 3 is no cross: previous diff 0)
    assert ups == [8]
    assert downs == [6, 11]


def test_with_shorting_a_signal_comes_on_the_cross_bar_only() -> None:
    sig = _signals([float(c) for c in ZIGZAG], allow_short=True)
    assert [i for i, d in enumerate(sig) if d is Direction.LONG] == [8]
    assert [i for i, d in enumerate(sig) if d is Direction.SHORT] == [6, 11]


def test_signal_atr_is_the_mean_true_range_of_the_last_14_bars() -> None:
    # bar i: close c_i, high c_i + 1.5, low c_i - 1.25; a cross up on the last bar
    closes = [float(100 - i) for i in range(30)] + [140.0]
    s = SmaCrossStrategy(2, 3, allow_short=True)
    for i, c in enumerate(closes):
        t = T0_MS + i * MINUTE_MS
        sig = s.on_candle(Candle("BTCUSDT", t, t + MINUTE_MS - 1, c, c + 1.5, c - 1.25, c, 1.0))
    assert sig.direction is Direction.LONG
    # 13 falling bars: TR = max(2.75, |c+1.5 - (c+1)|, |c-1.25 - (c+1)|) = 2.75;
    # the jump to 140 from 71: TR = 140 + 1.5 - 71 = 70.5
    assert sig.atr == pytest.approx((13 * 2.75 + 70.5) / 14)


def test_equal_averages_do_not_count_as_a_cross() -> None:
    sig = _signals([10.0] * 6 + [12.0])
    assert Direction.LONG not in sig  # previous diff was 0, not < 0


def test_with_params_rejects_unknown_and_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown"):
        SmaCrossStrategy().with_params({"fats": "3"})
    with pytest.raises(ValueError, match="fast < slow"):
        SmaCrossStrategy().with_params({"fast": "5", "slow": "5"})


async def test_long_only_trade_count_matches_hand_count(tmp_path: Path) -> None:
    path = write_candles(tmp_path / "BTCUSDT_1m.csv", [float(c) for c in ZIGZAG])
    opts = BacktestOptions(
        symbols=("BTCUSDT",),
        data=(path,),
        strategy="sma_cross",
        params={"fast": "2", "slow": "3"},
        raw=True,
        cash=1000.0,
        units="fractional",
        fill="close",
    )
    result = await run_async(opts)
    # one long: opened on the cross up (bar 8), closed on the cross down (bar 11)
    assert len(result.trades) == 1
    t = result.trades[0]
    assert (t.opened_ms - T0_MS) // MINUTE_MS == 9  # bar 8's close = bar 9's open time
    assert (t.closed_ms - T0_MS) // MINUTE_MS == 12
    assert t.exit_reason.startswith("SMA2 crossed down")


async def test_long_short_is_always_in_the_market_after_the_first_cross(tmp_path: Path) -> None:
    path = write_candles(tmp_path / "BTCUSDT_1m.csv", [float(c) for c in ZIGZAG])
    opts = BacktestOptions(
        engines=("futures",),
        symbols=("BTCUSDT",),
        data=(path,),
        strategy="sma_cross",
        params={"fast": "2", "slow": "3"},
        raw=True,
        cash=1000.0,
        units="fractional",
        allow_short=True,
        leverage=1,
    )
    result = await run_async(opts)
    sides = [t.side.value for t in result.trades]
    # reversed on each cross bar: short from bar 6, long from 8, short from 11 to the end
    assert sides == ["SHORT", "LONG", "SHORT"]
    opened = [(t.opened_ms - T0_MS) // MINUTE_MS for t in result.trades]
    closed = [(t.closed_ms - T0_MS) // MINUTE_MS for t in result.trades]
    assert opened == [7, 9, 12]  # the cross bar's close = the next bar's open time
    assert closed[:2] == opened[1:]  # each close and the next entry in the same step
    assert [t.exit_price for t in result.trades[:2]] == [t.entry_price for t in result.trades[1:]]
    assert result.trades[-1].exit_reason == "end_of_data"


def _arrays(closes: list[float]) -> CandleArrays:
    import numpy as np

    c = np.asarray(closes, np.float64)
    t = np.arange(len(c), dtype=np.int64) * 60_000
    return CandleArrays("BTCUSDT", 60_000, t, c, c + 1.5, c - 1.25, c, np.ones_like(c))


def _bar(closes: list[float], i: int) -> Candle:
    """Bar ``i`` of ``_arrays(closes)`` as a candle."""
    c = closes[i]
    return Candle("BTCUSDT", i * 60_000, i * 60_000 + 59_999, c, c + 1.5, c - 1.25, c, 1.0)


def _state(s: SmaCrossStrategy) -> tuple[object, ...]:
    s.settle("BTCUSDT")  # a fast-forward leaves the windows to refill when needed
    st = s._states["BTCUSDT"]
    return (list(st.fast.window), list(st.slow.window), st.prev_sign, st.last_cross,
            st.bars_since_cross, list(st.ranges), st.last_close)  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("allow_short", [False, True])
def test_fast_forward_equals_stepping(seed: int, allow_short: bool) -> None:
    """Skip every quiet stretch: state and every signal equal stepping bar by bar."""
    import random

    rng = random.Random(seed)
    closes = [100.0]
    for _ in range(3000):  # random walk with flat stretches (equal means must not cross)
        closes.append(closes[-1] if rng.random() < 0.2 else round(closes[-1] + rng.gauss(0, 1), 2))
    arrays = _arrays(closes)
    stepped = SmaCrossStrategy(5, 13, allow_short=allow_short)
    skipper = SmaCrossStrategy(5, 13, allow_short=allow_short)
    quiet = skipper.quiet_bars("BTCUSDT", arrays)
    assert quiet.sum() > 1000

    def candle(i: int) -> Candle:
        c = closes[i]
        return Candle("BTCUSDT", i * 60_000, i * 60_000 + 59_999, c, c + 1.5, c - 1.25, c, 1.0)

    i = 0
    while i < len(closes):
        if quiet[i]:
            j = i
            while j < len(closes) and quiet[j]:
                sig = stepped.on_candle(candle(j))
                assert sig.direction is Direction.FLAT
                assert sig.reason == "no cross"
                j += 1
            skipper.fast_forward("BTCUSDT", arrays, i, j)
            assert _state(skipper) == _state(stepped)
            i = j
            continue
        assert skipper.on_candle(candle(i)) == stepped.on_candle(candle(i))
        i += 1
    assert _state(skipper) == _state(stepped)


def test_a_flat_signal_carries_the_atr_for_stops_re_anchored_on_a_later_fill() -> None:
    s = SmaCrossStrategy(2, 3)
    sig = None
    for i in range(20):  # a steady rise: no cross after the warm-up
        t, c = T0_MS + i * MINUTE_MS, 100.0 + i
        sig = s.on_candle(Candle("BTCUSDT", t, t + MINUTE_MS - 1, c, c + 1.5, c - 1.25, c, 1.0))
    assert sig is not None
    assert sig.direction is Direction.FLAT
    assert sig.atr == pytest.approx(2.75)  # each bar: max(2.75, |c+1.5-(c-1)|=2.5, ...)


_PRICE = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(_PRICE, _PRICE, _PRICE), min_size=2, max_size=15))
def test_true_range_as_max_minus_min_is_the_textbook_float(bars: list[tuple[float, ...]]) -> None:
    """max(high, prev) - min(low, prev) is bit-identical to max(h - l, |h - p|, |l - p|)."""
    from collections import deque

    rows = [(max(a, b, c), min(a, b, c), b) for a, b, c in bars]  # high >= close >= low
    total, prev = 0.0, rows[0][2]
    for high, low, close in rows[1:]:
        total += max(high - low, abs(high - prev), abs(low - prev))
        prev = close
    highs, lows, closes = (list(col) for col in zip(*rows, strict=True))
    assert _mean(deque(_true_ranges(highs, lows, closes))) == total / (len(rows) - 1)


def _reference_directions(closes: list[float], fast: int, slow: int) -> list[Direction]:
    """The crossover rule with both means exact on every bar (``fsum`` of the window)."""
    out, prev, last, since = [], None, None, 0
    for i in range(len(closes)):
        if i + 1 < slow:
            out.append(Direction.FLAT)
            continue
        diff = math.fsum(closes[i + 1 - fast : i + 1]) / fast
        diff -= math.fsum(closes[i + 1 - slow : i + 1]) / slow
        if prev is not None and prev < 0 < diff:
            last, since = Direction.LONG, 0
        elif prev is not None and prev > 0 > diff:
            last, since = Direction.SHORT, 0
        else:
            since += 1
        prev = diff
        out.append(last if last is not None and since == 0 else Direction.FLAT)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_running_sums_give_the_exact_crosses(seed: int) -> None:
    """The running sums decide a sign only when it is certain: on flat stretches (equal
    means, a running sum off by an ulp) and one-ulp moves the crosses are the exact ones."""
    import random

    rng = random.Random(seed)
    fast, slow = rng.choice([(2, 3), (5, 13), (20, 50)])
    closes = [rng.choice([0.3, 100.1, 51234.57])]
    for _ in range(6000):
        r = rng.random()
        if r < 0.4:
            closes.append(closes[-1])  # flat: the exact means become equal
        elif r < 0.5:
            closes.append(math.nextafter(closes[-1], rng.choice([0.0, math.inf])))
        else:
            closes.append(round(closes[-1] * (1 + rng.gauss(0, 0.002)), 6))
    s = SmaCrossStrategy(fast, slow, allow_short=True)
    got = []
    for i, c in enumerate(closes):
        got.append(
            s.on_candle(
                Candle("BTCUSDT", i * 60_000, i * 60_000 + 59_999, c, c, c, c, 1.0)
            ).direction
        )
    assert got == _reference_directions(closes, fast, slow)
    assert got.count(Direction.FLAT) < len(got)


def test_fast_forward_takes_a_sign_too_close_for_floats_from_the_exact_means() -> None:
    """A last bar whose mean difference is within the float bound: the exact sign, not 0.

    (The driver only forwards quiet bars, whose sign is always certain; any other
    caller still gets the state stepping leaves.)
    """
    closes = [100.0] * 60 + [100.0 + 2e-12]  # fast - slow about 2e-13: within the bound
    arrays = _arrays(closes)
    stepped, skipper = SmaCrossStrategy(5, 13), SmaCrossStrategy(5, 13)
    assert skipper._columns("BTCUSDT", arrays)[1][-1] == 0  # unknown in floats
    for i, c in enumerate(closes):
        t = i * 60_000
        stepped.on_candle(Candle("BTCUSDT", t, t + 59_999, c, c + 1.5, c - 1.25, c, 1.0))
    for i, c in enumerate(closes[:20]):
        t = i * 60_000
        skipper.on_candle(Candle("BTCUSDT", t, t + 59_999, c, c + 1.5, c - 1.25, c, 1.0))
    skipper.fast_forward("BTCUSDT", arrays, 20, len(closes))
    assert stepped._states["BTCUSDT"].prev_sign == 1
    assert _state(skipper) == _state(stepped)


def test_the_sums_fast_forward_restarts_carry_the_magnitude_of_what_they_summed() -> None:
    """The bar after a fast-forward updates the running sums it seeded: ``top`` must
    bound the values summed, or a sum that lost a small value to a huge one is trusted.

    Here the slow window held 1e16 at the seed: the update leaves the slow sum 0 where
    the exact one is 0.3, a wrong sign unless the bound sends it to the exact means.
    """
    closes = [0.1] * 8 + [1e16, 0.1, 0.1, 0.1]
    arrays = _arrays(closes)
    stepped, skipper = SmaCrossStrategy(2, 3), SmaCrossStrategy(2, 3)

    def candle(i: int) -> Candle:
        c = closes[i]
        return Candle("BTCUSDT", i * 60_000, i * 60_000 + 59_999, c, c + 1.5, c - 1.25, c, 1.0)

    for i in range(len(closes)):
        last = stepped.on_candle(candle(i))
    for i in range(4):
        skipper.on_candle(candle(i))
    skipper.fast_forward("BTCUSDT", arrays, 4, 11)  # (not quiet bars: the sums only)
    skipper.settle("BTCUSDT")  # the sums seeded, then updated by the next bar
    skipper.on_candle(candle(11))
    assert stepped._states["BTCUSDT"].prev_sign == -1  # 0.1 below 0.30000000000000004 / 3
    assert skipper._states["BTCUSDT"].prev_sign == -1
    assert last.direction is Direction.FLAT


def test_a_cross_signal_is_the_frozen_signal_its_fields_make() -> None:
    """Built slot by slot: equal to ``Signal(...)`` of the same fields, and frozen."""
    import dataclasses

    s = SmaCrossStrategy(2, 3)
    signals = []
    for i, c in enumerate([5.0, 4.0, 3.0, 2.0, 6.0]):  # falling, then a cross up
        t = T0_MS + i * MINUTE_MS
        signals.append(s.on_candle(Candle("BTCUSDT", t, t + MINUTE_MS - 1, c, c, c, c, 1.0)))
    sig = signals[-1]
    assert sig.direction is Direction.LONG
    expected = Signal("BTCUSDT", Direction.LONG, 100, 6.0, sig.ts_ms, sig.atr, None,
                      "SMA2 crossed up SMA3")  # fmt: skip
    assert type(sig) is Signal
    assert sig == expected
    assert dataclasses.astuple(sig) == dataclasses.astuple(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sig.confidence = 5  # type: ignore[misc]


@pytest.mark.parametrize("seed", range(4))
def test_a_candle_that_is_not_the_series_next_bar_refills_the_windows(seed: int) -> None:
    """After a fast-forward the next bar of the series is looked up; another candle (here
    the next bar with another close) refills the windows from the series first and then
    steps: its signal and every later one equal stepping's, and so does the state."""
    import random

    rng = random.Random(seed)
    closes = [100.0]
    for _ in range(1500):
        closes.append(closes[-1] if rng.random() < 0.2 else round(closes[-1] + rng.gauss(0, 1), 2))
    arrays = _arrays(closes)
    stepped, skipper = SmaCrossStrategy(5, 13), SmaCrossStrategy(5, 13)
    quiet = skipper.quiet_bars("BTCUSDT", arrays)
    start = next(i for i in range(800, len(closes)) if quiet[i])
    stop = start
    while quiet[stop]:
        stop += 1

    def candle(i: int) -> Candle:
        return _bar(closes, i)

    for i in range(start):
        assert skipper.on_candle(candle(i)) == stepped.on_candle(candle(i))
    for i in range(start, stop):
        stepped.on_candle(candle(i))
    skipper.fast_forward("BTCUSDT", arrays, start, stop)
    assert skipper._states["BTCUSDT"].series is arrays
    c = closes[stop]  # the series' bar but another close (time, high and low the same)
    odd = Candle("BTCUSDT", stop * 60_000, stop * 60_000 + 59_999, c, c + 1.5, c - 1.25,
                 c + 0.37, 1.0)  # fmt: skip
    assert skipper.on_candle(odd) == stepped.on_candle(odd)
    assert skipper._states["BTCUSDT"].series is None  # the windows were refilled
    for i in range(stop + 1, len(closes)):
        assert skipper.on_candle(candle(i)) == stepped.on_candle(candle(i))
    assert _state(skipper) == _state(stepped)


def test_a_looked_up_bar_too_close_to_call_takes_the_exact_sign() -> None:
    """The bar after a fast-forward whose mean difference is within the float bound:
    the exact means decide its sign (+1 here), as stepping does, not the unknown 0."""
    closes = [100.0] * 60 + [100.0 + 2e-12]  # fast - slow about 2e-13 on the last bar
    arrays = _arrays(closes)
    stepped, skipper = SmaCrossStrategy(5, 13), SmaCrossStrategy(5, 13)
    assert skipper._columns("BTCUSDT", arrays)[1][-1] == 0  # unknown in floats

    def candle(i: int) -> Candle:
        return _bar(closes, i)

    for i in range(len(closes)):
        last = stepped.on_candle(candle(i))
    for i in range(20):
        skipper.on_candle(candle(i))
    skipper.fast_forward("BTCUSDT", arrays, 20, 60)
    assert skipper.on_candle(candle(60)) == last
    assert skipper._states["BTCUSDT"].prev_sign == stepped._states["BTCUSDT"].prev_sign == 1

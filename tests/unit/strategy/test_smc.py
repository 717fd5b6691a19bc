"""SMC elements on hand-built candles: swings, BOS/CHoCH, FVG, order blocks, Fibonacci, HTF."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import Candle, Direction
from kinetic.strategy import SMCStrategy
from kinetic.strategy.structure import (
    HTFAggregator,
    MarketStructure,
    Swing,
    SwingDetector,
    Zone,
    detect_fvg,
    fib_levels,
    find_order_block,
    retracement,
)

MS = 300_000


def bar(i: int, o: float, h: float, lo: float, c: float, symbol: str = "BTCUSDT") -> Candle:
    return Candle(symbol, i * MS, i * MS + MS - 1, o, h, lo, c, 1.0)


def test_swing_high_is_confirmed_only_n_bars_later() -> None:
    det = SwingDetector(2)
    highs = [10.0, 11.0, 15.0, 12.0, 11.0, 13.0]
    reported = [det.update(h, h - 1.0) for h in highs]
    assert reported[:4] == [[], [], [], []]  # the peak at index 2 is not known at index 2 or 3
    assert Swing(2, 15.0, True) in reported[4]  # confirmed by the 2nd bar after it
    assert not any(s.high for s in reported[5])


def test_swing_low_and_equal_left_high_rejected() -> None:
    det = SwingDetector(1)
    out = [det.update(h, lo) for h, lo in [(5, 4), (5, 2), (6, 3)]]
    assert out[2] == [Swing(1, 2.0, False)]  # equal high on the left: no swing high
    det = SwingDetector(1)
    out = [det.update(h, lo) for h, lo in [(5, 4), (7, 3), (7, 3.5)]]
    assert Swing(1, 7.0, True) in out[2]  # an equal high on the right still confirms


def test_break_in_trend_direction_is_bos_against_it_is_choch() -> None:
    ms = MarketStructure()
    ms.add_swing(Swing(0, 110.0, True))
    ms.add_swing(Swing(1, 100.0, False))
    first = ms.on_close(111.0, 5)
    assert first is not None
    assert (first.kind, first.side) == ("BOS", Direction.LONG)
    assert ms.on_close(112.0, 6) is None  # a swing level breaks only once
    ms.add_swing(Swing(7, 120.0, True))
    again = ms.on_close(121.0, 9)
    assert again is not None
    assert again.kind == "BOS"
    flip = ms.on_close(99.0, 10)
    assert flip is not None
    assert (flip.kind, flip.side) == ("CHoCH", Direction.SHORT)
    assert ms.trend is Direction.SHORT
    ms.add_swing(Swing(11, 118.0, True))
    back = ms.on_close(119.0, 13)
    assert back is not None
    assert (back.kind, back.side) == ("CHoCH", Direction.LONG)


def test_fair_value_gaps_bullish_bearish_and_none() -> None:
    up = [bar(0, 100, 101, 99, 100.5), bar(1, 101, 106, 100.8, 105), bar(2, 105, 107, 102, 106)]
    gap = detect_fvg(up, 2)
    assert gap == Zone("FVG", Direction.LONG, 101.0, 102.0, 2)
    down = [bar(0, 100, 101, 99, 99.5), bar(1, 99, 99.2, 94, 95), bar(2, 95, 97, 93, 94)]
    assert detect_fvg(down, 2) == Zone("FVG", Direction.SHORT, 97.0, 99.0, 2)
    overlap = [bar(0, 100, 101, 99, 100), bar(1, 100, 102, 99, 101), bar(2, 101, 103, 100.5, 102)]
    assert detect_fvg(overlap, 2) is None


def test_order_block_is_last_opposite_candle_before_the_break() -> None:
    bars = [bar(0, 100, 101, 98, 99), bar(1, 99, 100, 96, 97), bar(2, 97, 103, 97, 102)]
    ob = find_order_block(bars, Direction.LONG, 3)
    assert ob == Zone("OB", Direction.LONG, 96.0, 100.0, 3)
    assert find_order_block(bars, Direction.SHORT, 3) == Zone("OB", Direction.SHORT, 97, 103, 3)
    assert ob.contains(95.0, 96.5)
    assert not ob.contains(100.5, 101.0)
    assert ob.mitigated_by(95.9)
    assert not ob.mitigated_by(96.0)


def test_fib_levels_and_discount_premium() -> None:
    levels = fib_levels(100.0, 200.0, Direction.LONG)
    assert levels[0.5] == 150.0
    assert levels[0.618] == pytest.approx(138.2)
    assert fib_levels(100.0, 200.0, Direction.SHORT)[0.618] == pytest.approx(161.8)
    assert retracement(130.0, 100.0, 200.0, Direction.LONG) == pytest.approx(0.7)  # discount
    assert retracement(170.0, 100.0, 200.0, Direction.SHORT) == pytest.approx(0.7)  # premium
    assert retracement(150.0, 150.0, 150.0, Direction.LONG) == 0.0


def test_htf_aggregator_emits_only_closed_bars() -> None:
    agg = HTFAggregator(3)
    out = [agg.update(bar(i, 10 + i, 12 + i, 9 + i, 11 + i)) for i in range(7)]
    assert [len(o) for o in out] == [0, 0, 1, 0, 0, 1, 0]
    first = out[2][0]
    assert (first.open, first.high, first.low, first.close) == (10, 14, 9, 13)
    assert first.open_time_ms == 0
    assert first.close_time_ms == 3 * MS - 1
    gap = HTFAggregator(3)
    gap.update(bar(0, 1, 2, 0.5, 1.5))
    closed = gap.update(bar(4, 1, 2, 0.5, 1.5))  # bucket 0 never saw its last bar
    assert len(closed) == 1
    assert closed[0].close_time_ms == 3 * MS - 1


def _leg(symbol: str = "BTCUSDT") -> list[Candle]:
    """A rising zig-zag: six bars up by 2, three bars down by 2, repeated (HTF uptrend)."""
    out: list[Candle] = []
    price = 100.0
    for i in range(90):
        step = 2.0 if i % 9 < 6 else -2.0
        out.append(bar(i, price, price + max(step, 0) + 0.5, price + min(step, 0) - 0.5,
                       price + step, symbol))  # fmt: skip
        price += step
    return out


def test_htf_bias_drives_the_side_and_signal_is_explained() -> None:
    strategy = SMCStrategy(min_confidence=0, swing_n=1, htf_factor=2, htf_swing_n=1)
    signals = [strategy.on_candle(c) for c in _leg()]
    warm = signals[strategy.warmup :]
    assert all(s.direction is not Direction.SHORT for s in warm)  # bias is up: never short
    longs = [s for s in warm if s.direction is Direction.LONG]
    assert longs, "pull-backs into a zone in discount must produce entries"
    assert all(s.confidence >= 80 and "SMC LONG" in s.reason for s in longs)
    last = warm[-1]
    assert last.regime is not None
    assert last.atr > 0
    assert {"htf_bias", "structure", "zone", "fib", "rejection"} <= set(last.components)
    assert last.components["htf_bias"] == 30.0
    assert "HTF bias LONG" in last.reason or "SMC LONG" in last.reason


def test_entry_needs_zone_and_discount() -> None:
    strategy = SMCStrategy(min_confidence=0, swing_n=1, htf_factor=2, htf_swing_n=1)
    signals = [strategy.on_candle(c) for c in _leg()]
    for s in signals:
        if s.direction is Direction.LONG:
            assert s.components["zone"] > 0
            assert s.components["fib"] > 0
            assert s.components["retracement"] >= 0.5
        elif s.components.get("htf_bias"):
            assert s.components["zone"] == 0 or s.components["fib"] == 0


def test_invalid_parameters_rejected() -> None:
    with pytest.raises(ValueError, match="min_confidence"):
        SMCStrategy(min_confidence=101)
    with pytest.raises(ValueError, match="swing size"):
        SMCStrategy(min_confidence=50, swing_n=0)
    with pytest.raises(ValueError, match="HTF factor"):
        SMCStrategy(min_confidence=50, htf_factor=0)


@settings(max_examples=30, deadline=None)
@given(
    future=st.lists(
        st.tuples(st.floats(0.8, 1.25), st.floats(0.0, 0.05), st.floats(0.0, 0.05)),
        min_size=1,
        max_size=30,
    ),
    cut=st.integers(20, 90),
)
def test_smc_no_look_ahead_with_active_structure(
    future: list[tuple[float, float, float]], cut: int
) -> None:
    """Future candles never change earlier SMC decisions, also while zones and bias are live."""
    past = _leg()[:cut]
    last = past[-1]
    extra = []
    for i, (ratio, up, down) in enumerate(future, start=1):
        close = last.close * ratio
        extra.append(bar(cut - 1 + i, last.close, max(last.close, close) * (1 + up),
                         min(last.close, close) * (1 - down), close))  # fmt: skip

    def build() -> SMCStrategy:
        return SMCStrategy(min_confidence=0, swing_n=1, htf_factor=2, htf_swing_n=1)

    first, second = build(), build()
    alone = [first.on_candle(c) for c in past]
    extended = [second.on_candle(c) for c in past + extra]
    assert extended[: len(past)] == alone

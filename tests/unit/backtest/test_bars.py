"""Bars and the slot-by-slot constructors give the very objects the classes build."""

from __future__ import annotations

import random

import numpy as np

from kinetic.backtest.bars import BLOCK, Bars, new_candle
from kinetic.domain import Candle, Direction, Regime, Signal
from kinetic.marketdata.files import CandleArrays
from kinetic.strategy.base import flat_signal, new_flat
from kinetic.strategy.sma_cross import _mean


def _arrays(n: int) -> CandleArrays:
    rng = np.random.default_rng(7)
    close = np.round(100 + rng.normal(0, 1, n).cumsum(), 2)
    t = np.arange(n, dtype=np.int64) * 60_000 + 1_700_000_040_000
    return CandleArrays("BTCUSDT", 60_000, t, close + 0.5, close + 1.25, close - 1.5, close,
                        rng.random(n))  # fmt: skip


def test_bars_read_the_columns_as_item_does_across_blocks() -> None:
    a = _arrays(2 * BLOCK + 17)
    bars = Bars(a)
    picks = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 16, 5, 2 * BLOCK, BLOCK - 1]
    for i in picks:  # in and out of order: blocks are loaded again as needed
        t = a.open_time_ms.item(i)
        want = Candle("BTCUSDT", t, t + 59_999, a.open.item(i), a.high.item(i),
                      a.low.item(i), a.close.item(i), a.volume.item(i))  # fmt: skip
        got = bars.candle(i)
        assert got == want
        assert [type(v) for v in vars_of(got)] == [type(v) for v in vars_of(want)]
        tick = bars.opening_tick(i)
        p = a.open.item(i)
        assert tick == Candle("BTCUSDT", t, t, p, p, p, p, 0.0)


def vars_of(c: Candle) -> list[object]:
    return [getattr(c, name) for name in Candle.__slots__]


def test_new_candle_is_a_candle() -> None:
    c = new_candle("ETHUSDT", 1, 2, 1.0, 2.0, 0.5, 1.5, 3.0)
    assert type(c) is Candle
    assert c == Candle("ETHUSDT", 1, 2, 1.0, 2.0, 0.5, 1.5, 3.0)
    assert hash(c) == hash(Candle("ETHUSDT", 1, 2, 1.0, 2.0, 0.5, 1.5, 3.0))


def test_new_flat_is_the_signal_init_builds() -> None:
    a = new_flat("BTCUSDT", 1.5, 7, 0.25, Regime.TRENDING, "no cross")
    b = Signal("BTCUSDT", Direction.FLAT, 0, 1.5, 7, 0.25, Regime.TRENDING, "no cross")
    assert a == b
    assert repr(a) == repr(b)
    assert a.components == {}
    assert a.components is not new_flat("BTCUSDT", 1.5, 7, 0.25, None, "").components
    c = Candle("BTCUSDT", 0, 59_999, 1.0, 2.0, 0.5, 1.5, 3.0)
    assert flat_signal(c, "x", 0.5) == Signal("BTCUSDT", Direction.FLAT, 0, 1.5, 59_999, 0.5,
                                              None, "x")  # fmt: skip


def test_atr_mean_sums_left_to_right() -> None:
    from collections import deque

    rng = random.Random(3)
    for _ in range(2000):
        values = deque(rng.choice([rng.random() * 10 ** rng.randint(-8, 8), -0.0, 0.1, 1e16])
                       for _ in range(rng.randint(0, 14)))  # fmt: skip
        total = 0.0
        for v in values:
            total += v
        want = total / len(values) if values else 0.0
        assert _mean(values) == want or (want != want and _mean(values) != _mean(values))


def test_built_objects_are_frozen_candles_and_signals() -> None:
    """The class switch happened: the objects are Candle / Signal, frozen like them."""
    import dataclasses

    import pytest

    bars = Bars(_arrays(3))
    built = [bars.candle(1), bars.opening_tick(2), new_candle("X", 1, 2, 1.0, 2.0, 0.5, 1.5, 3.0)]
    sig = new_flat("BTCUSDT", 1.5, 7, 0.25, None, "no cross")
    for obj, cls in [*((c, Candle) for c in built), (sig, Signal)]:
        assert type(obj) is cls
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.symbol = "ETHUSDT"  # type: ignore[misc]
        assert obj == cls(*(getattr(obj, name) for name in cls.__slots__))
    assert {built[0]: 1}[bars.candle(1)] == 1  # hashed as Candle(...) is


def test_block_builders_give_the_per_bar_objects() -> None:
    a = _arrays(BLOCK + 9)
    bars, one = Bars(a), Bars(a)
    for lo, hi in ((0, BLOCK), (BLOCK, BLOCK + 9), (3, 11), (BLOCK + 8, BLOCK + 20)):
        got = bars.candles(lo, hi)
        want = [one.candle(i) for i in range(lo, min(hi, len(a)))]
        assert got == want
        assert [[type(v) for v in vars_of(c)] for c in got] == [
            [type(v) for v in vars_of(c)] for c in want
        ]
        assert all(type(c) is Candle for c in got)
        ticks = bars.opening_ticks(lo, hi)
        want = [one.opening_tick(i) for i in range(lo, min(hi, len(a)))]
        assert ticks == want
        assert [[type(v) for v in vars_of(c)] for c in ticks] == [
            [type(v) for v in vars_of(c)] for c in want
        ]
        assert all(type(c) is Candle for c in ticks)


def _same(got: Candle, want: Candle) -> None:
    assert got == want
    assert [type(v) for v in vars_of(got)] == [type(v) for v in vars_of(want)]


def test_sparse_reads_go_item_by_item_until_a_block_is_asked_enough() -> None:
    """A block is converted on its ``SPARSE``-th read, not before; every read, item by
    item or from the block, gives the candle and tick ``.item(i)`` does."""
    from kinetic.backtest.bars import SPARSE

    a = _arrays(2 * BLOCK + 5)
    bars = Bars(a)

    def want(i: int) -> tuple[Candle, Candle]:
        t, p = a.open_time_ms.item(i), a.open.item(i)
        hi, lo, c, v = a.high.item(i), a.low.item(i), a.close.item(i), a.volume.item(i)
        return Candle("BTCUSDT", t, t + 59_999, p, hi, lo, c, v), Candle(
            "BTCUSDT", t, t, p, p, p, p, 0.0
        )

    reads = 0
    for i in range(BLOCK, 2 * BLOCK):  # the second block, read bar and tick
        for read, w in zip((bars.candle, bars.opening_tick), want(i), strict=True):
            _same(read(i), w)
            reads += 1
            converted = bars._hi > bars._lo
            assert converted == (reads >= SPARSE), reads
        if reads > SPARSE + 2:
            break
    assert (bars._lo, bars._hi) == (BLOCK, 2 * BLOCK)
    # another block restarts the count; reads in the converted one need no conversion
    for i in (5, 2 * BLOCK + 4, BLOCK + 3, 2 * BLOCK - 1):
        c, t = want(i)
        _same(bars.candle(i), c)
        _same(bars.opening_tick(i), t)
    assert (bars._lo, bars._hi) == (BLOCK, 2 * BLOCK)
    # the last, short block converts to its end, counted from its first read
    for k in range(SPARSE):
        i = 2 * BLOCK + k % 5
        _same(bars.candle(i), want(i)[0])
    assert (bars._lo, bars._hi) == (2 * BLOCK, 2 * BLOCK + 5)


def test_reads_alternating_between_blocks_never_convert() -> None:
    """The count is per block: reads that leave a block start it again."""
    from kinetic.backtest.bars import SPARSE

    bars = Bars(_arrays(2 * BLOCK))
    for k in range(SPARSE + 3):
        bars.candle(BLOCK - 1 if k % 2 else BLOCK)
    assert bars._hi == bars._lo == 0

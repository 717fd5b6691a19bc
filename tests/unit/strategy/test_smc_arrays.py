"""The whole-series SMC plan (``smc_arrays``) against the per-bar state it replaces.

Random candle series (prices on a coarse tick, so equal highs and lows are common; time
gaps and steps shorter than a bar, so HTF runs are cut both ways; some with bars whose
range does not hold the close, where a swing high can lie below a swing low) and random
parameters (small lookbacks age zones out, many zones hit the list bound):

* the plan's direction on every bar is the direction ``on_candle`` returns;
* a state restored from the plan at every bar (from a fresh state, and from states fed
  up to random bars) equals, field by field and bit for bit (``repr`` of every float),
  a state fed every bar up to it;
* a strategy that skips random stretches gives the very signals of one that steps all.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.domain import Direction
from kinetic.marketdata.files import CandleArrays
from kinetic.strategy.replay import bar_candles
from kinetic.strategy.smc import MAX_ZONES, SMCStrategy, _SymbolState
from kinetic.strategy.smc_arrays import SMCPlan, Structure, htf_bars, restore, structure
from kinetic.strategy.structure import (
    HTFAggregator,
    MarketStructure,
    StructureEvent,
    Swing,
    SwingDetector,
)

SIDE = {Direction.LONG: 1, Direction.SHORT: -1, Direction.FLAT: 0}
MINUTE = 60_000


def _series(
    seed: int, n: int, tick: float, gaps: bool, ragged: bool, wild: bool = False
) -> CandleArrays:
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.integers(-1, 2, n // 40 + 1), 40)[:n]  # trends that turn
    close = 1000.0 + tick * np.cumsum(rng.integers(-3, 4, n) + drift)
    open_ = np.r_[close[0], close[:-1]] + tick * rng.integers(-1, 2, n) * (rng.random(n) < 0.2)
    high = np.maximum(open_, close) + tick * rng.integers(0, 3, n)
    low = np.minimum(open_, close) - tick * rng.integers(0, 3, n)
    if wild:  # bars whose high and low do not hold the close (bad data is still data)
        odd = rng.random(n) < 0.05
        high[odd], low[odd] = low[odd] - 4 * tick, high[odd] + 4 * tick
    steps = np.full(n, MINUTE, np.int64)
    if gaps:
        steps *= 1 + rng.integers(0, 3, n) * (rng.random(n) < 0.1)
    if ragged:  # steps shorter than a bar: a bar that closes its HTF bucket can be
        # followed by one in the same bucket
        short = rng.random(n) < 0.2
        steps[short] = rng.integers(1, MINUTE, n)[short]
    t = 1_600_000_020_000 + np.cumsum(steps)
    return CandleArrays("BTCUSDT", MINUTE, t, open_, high, low, close, rng.random(n) * 10)


def _snapshot(obj: Any) -> Any:
    """Every field of a state, recursively; floats by ``repr`` (bit for bit)."""
    if isinstance(obj, deque):
        return ("deque", obj.maxlen, [_snapshot(x) for x in obj])
    if isinstance(obj, list | tuple):
        return [_snapshot(x) for x in obj]
    slots = [k for cls in type(obj).__mro__ for k in getattr(cls, "__slots__", ())]
    if slots and not hasattr(obj, "__dataclass_fields__"):
        return {k: _snapshot(getattr(obj, k)) for k in slots}
    return repr(obj)


_PARAMS = st.fixed_dictionaries(
    {
        "swing_n": st.integers(1, 4),
        "htf_factor": st.integers(1, 13),
        "htf_swing_n": st.integers(1, 3),
        "lookback": st.integers(2, 30),
    }
)
_SERIES = st.tuples(
    st.integers(0, 2**32 - 1),  # seed
    st.integers(5, 320),  # bars
    st.sampled_from([1.0, 0.5, 0.01]),  # tick
    st.booleans(),  # gaps
    st.booleans(),  # ragged
    st.booleans(),  # wild
)


@settings(max_examples=60, deadline=None)
@given(
    series=_SERIES,
    params=_PARAMS,
    min_confidence=st.sampled_from([0, 60, 65, 75, 90]),
    cuts=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=6),
    warmup=st.one_of(st.none(), st.integers(1, 40)),
)
def test_plan_directions_and_restored_states_equal_the_per_bar_state(
    series: tuple[int, int, float, bool, bool, bool],
    params: dict[str, int],
    min_confidence: int,
    cuts: list[tuple[float, float]],
    warmup: int | None,
) -> None:
    arrays = _series(*series)
    strategy = SMCStrategy(min_confidence, **params)
    if warmup is not None:  # the warm-up's edge at random places (both sides read it)
        strategy.warmup = warmup
    args = strategy._args
    plan = SMCPlan.build(arrays, args, MAX_ZONES)
    assert plan is not None
    n = len(arrays)
    # (start, stop): restore from a state fed 0..start-1 up to stop-1
    pairs = sorted((int(a * n), int(a * n) + 1 + int(b * (n - int(a * n) - 1))) for a, b in cuts)
    pairs = [(a, b) for a, b in pairs if a < n]
    wanted = {b - 1: a for a, b in pairs}
    stepped = _SymbolState(*args)
    fed: list[Any] = [_snapshot(stepped)]  # after bars 0..i-1
    sides = np.zeros(n, np.int8)
    for i, candle in enumerate(bar_candles(arrays)):
        stepped.update(candle)
        sides[i] = SIDE[strategy._direction(stepped, candle)]
        fed.append(_snapshot(stepped))
    assert plan.directions(min_confidence, strategy.warmup).tolist() == sides.tolist()
    for stop in range(1, n + 1):  # from a fresh state to every bar
        state = _SymbolState(*args)
        restore(state, plan, 0, stop)
        assert _snapshot(state) == fed[stop], stop
    for stop_bar, start in wanted.items():
        state = _SymbolState(*args)
        for candle in bar_candles(arrays, 0, start):
            state.update(candle)
        restore(state, plan, start, stop_bar + 1)
        assert _snapshot(state) == fed[stop_bar + 1], (start, stop_bar)


@settings(max_examples=25, deadline=None)
@given(series=_SERIES, params=_PARAMS, min_confidence=st.sampled_from([0, 60, 75]),
       seed=st.integers(0, 1000))  # fmt: skip
def test_skipping_random_stretches_gives_the_stepped_signals(
    series: tuple[int, int, float, bool, bool, bool],
    params: dict[str, int],
    min_confidence: int,
    seed: int,
) -> None:
    arrays = _series(*series)

    def make() -> SMCStrategy:
        return SMCStrategy(min_confidence, **params)

    stepper = make()
    signals = [stepper.on_candle(c) for c in bar_candles(arrays)]
    may_long, may_short = (skipper := make()).action_bars("BTCUSDT", arrays)
    assert may_long.tolist() == [s.direction is Direction.LONG for s in signals]
    assert may_short.tolist() == [s.direction is Direction.SHORT for s in signals]
    rng, i = random.Random(seed), 0
    while i < len(arrays):
        if rng.random() < 0.5:
            j = min(len(arrays), i + rng.randint(1, 40))
            skipper.fast_forward("BTCUSDT", arrays, i, j)
            i = j
            continue
        assert skipper.on_candle(arrays.candle(i)) == signals[i]
        i += 1
    assert _snapshot(skipper._state("BTCUSDT")) == _snapshot(stepper._state("BTCUSDT"))


def test_a_series_with_a_nan_price_falls_back_to_the_shadow_replay() -> None:
    arrays = _series(7, 300, 1.0, False, False)
    arrays.close[150] = np.nan
    strategy = SMCStrategy(0, swing_n=2, htf_factor=3)
    assert SMCPlan.build(arrays, strategy._args, MAX_ZONES) is None
    stepper = SMCStrategy(0, swing_n=2, htf_factor=3)
    signals = [stepper.on_candle(c) for c in bar_candles(arrays)]
    may_long, may_short = strategy.action_bars("BTCUSDT", arrays)
    assert may_long.tolist() == [s.direction is Direction.LONG for s in signals]
    assert may_short.tolist() == [s.direction is Direction.SHORT for s in signals]
    strategy.fast_forward("BTCUSDT", arrays, 0, 200)  # bar by bar: no plan
    assert [strategy.on_candle(arrays.candle(i)) for i in range(200, 300)] == signals[200:]


def test_a_state_not_at_the_stretch_start_is_fed_bar_by_bar() -> None:
    """``fast_forward`` restores only a state that saw exactly bars ``0..start-1``."""
    arrays = _series(11, 200, 0.5, True, True)
    strategy = SMCStrategy(0, swing_n=2, htf_factor=4, lookback=12)
    strategy.action_bars("BTCUSDT", arrays)
    other = CandleArrays(arrays.symbol, arrays.interval_ms, *(
        getattr(arrays, f)[:] for f in ("open_time_ms", "open", "high", "low", "close", "volume")
    ))  # fmt: skip
    strategy.fast_forward("BTCUSDT", other, 0, 120)  # not the planned arrays: fed
    stepper = SMCStrategy(0, swing_n=2, htf_factor=4, lookback=12)
    for c in bar_candles(arrays, 0, 120):
        stepper.on_candle(c)
    assert _snapshot(strategy._state("BTCUSDT")) == _snapshot(stepper._state("BTCUSDT"))
    strategy.fast_forward("BTCUSDT", arrays, 120, 200)  # the plan's arrays, at bar 120
    for c in bar_candles(arrays, 120, 200):
        stepper.on_candle(c)
    assert _snapshot(strategy._state("BTCUSDT")) == _snapshot(stepper._state("BTCUSDT"))


def _per_bar_structure(high: list[float], low: list[float], close: list[float], n: int) -> Any:
    """Swings and breaks from ``SwingDetector`` and ``MarketStructure`` fed bar by bar."""
    swings, structure_ = SwingDetector(n), MarketStructure()
    found, events = [], []
    for i, (h, lo, c) in enumerate(zip(high, low, close, strict=True)):
        for s in swings.update(h, lo):
            structure_.add_swing(s)
            found.append((i, s))
        if (e := structure_.on_close(c, i)) is not None:
            events.append(e)
    return found, events


def _plan_structure(s: Structure, n: int) -> Any:
    highs = [(int(c), Swing(int(m), float(p), True))
             for m, c, p in zip(s.sh_mid, s.sh_conf, s.sh_price, strict=True)]  # fmt: skip
    lows = [(int(c), Swing(int(m), float(p), False))
            for m, c, p in zip(s.sl_mid, s.sl_conf, s.sl_price, strict=True)]  # fmt: skip
    events = [
        StructureEvent("CHoCH" if ch else "BOS", Direction.LONG if side > 0 else Direction.SHORT,
                       float(level), int(pos))
        for pos, side, ch, level in zip(s.ev_pos, s.ev_side, s.ev_choch, s.ev_level, strict=True)
    ]  # fmt: skip
    return sorted(highs + lows, key=lambda x: (x[0], not x[1].high)), events


@settings(max_examples=60, deadline=None)
@given(series=_SERIES, n=st.integers(1, 4), factor=st.integers(1, 13))
def test_swings_breaks_and_htf_bars_equal_the_per_bar_classes(
    series: tuple[int, int, float, bool, bool, bool], n: int, factor: int
) -> None:
    """Every swing, every break (BOS/CHoCH, level) and every closed HTF bar, not just
    the state they leave."""
    arrays = _series(*series)
    cols = (arrays.high.tolist(), arrays.low.tolist(), arrays.close.tolist())
    assert _plan_structure(structure(arrays.high, arrays.low, arrays.close, n), n) == (
        _per_bar_structure(*cols, n)
    )
    agg, closed = HTFAggregator(factor), list[tuple[int, float, float, float]]()
    for i, candle in enumerate(bar_candles(arrays)):
        closed.extend((i, b.high, b.low, b.close) for b in agg.update(candle))
    htf = htf_bars(arrays, factor, n)
    mine = list(zip(htf.emit.tolist(), htf.high.tolist(), htf.low.tolist(), htf.close.tolist(),
                    strict=True))  # fmt: skip
    assert mine == closed
    assert _plan_structure(htf.structure, n) == _per_bar_structure(
        [b[1] for b in closed], [b[2] for b in closed], [b[3] for b in closed], n
    )


def test_a_close_through_a_swing_high_below_a_swing_low_breaks_the_high_first() -> None:
    """Bad bars (a low above the close) can put the swing high in force below the swing
    low in force; ``on_close`` then breaks the high, and the low on a later close."""
    high = [3.0, 5.0, 4.0, 4.0, 4.0, 4.0]
    low = [0.0, 1.0, 11.0, 10.0, 12.0, 12.0]
    close = [2.0, 2.0, 2.0, 2.0, 7.0, 7.0]
    s = structure(np.array(high), np.array(low), np.array(close), 1)
    swings, events = _per_bar_structure(high, low, close, 1)
    assert _plan_structure(s, 1) == (swings, events)
    assert [(e.index, e.side, e.kind, e.level) for e in events] == [
        (4, Direction.LONG, "BOS", 5.0),
        (5, Direction.SHORT, "CHoCH", 10.0),
    ]

"""Every bar's confluence decision, vectorised, is the per-bar ``on_candle`` one exactly.

``confluence_arrays`` recomputes the indicators, stochastic, patterns, swing levels and
the scorer's sums for a whole series; the strategy then keeps that series as its state
in a backtest (``action_bars``) and looks a stepped bar's decision up. Checked against a
strategy fed every candle (the reference), on slices of real 5m BTC and on prices on a
coarse grid (ties everywhere: equal highs, zero ranges, equidistant levels, %K at 0).

Mutants these tests kill (each tried by hand): support and resistance at equal distances
going to resistance; a swing high not strictly above the bars before it, or strictly
above those after; the levels keeping nine swings or dropping the oldest; %K above %D
counted as turning when equal; another doji bonus; rounding half up; the zero rule of
RollingSum's running update left out; a tie's confidence not 0; warm-up bars not FLAT;
the batch feed started before the states are warm; ``fast_forward`` moving the index one
bar short; the looked-up signal without the previous candle (engulfing) or with its
kept level on the wrong side; ``confluence_stepped`` with the patterns before the
indicators (the components' order), without the doji bonus, an RSI detail to two
decimals, a tie's two reasons swapped, an opposing part not negated, %K equal to %D
turning, the parts memo keyed by the unsigned points or never emptied; the rebuilt
incremental state skipping the first bar; a block of bars (patterns, %K, the
indicators' feed) losing the bar before it or one bar.
The zero rule on an ``fsum`` update is an equivalent mutant (``fsum`` of zeros is 0.0).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kinetic.domain import Direction
from kinetic.marketdata.files import CandleArrays, read_candles
from kinetic.strategy import confluence_arrays, confluence_stepped
from kinetic.strategy.confluence import ConfluenceStrategy, _indicators, _patterns
from kinetic.strategy.confluence_arrays import (
    Columns,
    decisions,
    flags,
    fsums,
    patterns,
    rolling_extreme,
    rolling_sum,
    stochastic,
    swing_levels,
)
from kinetic.strategy.confluence_stepped import regime_of
from kinetic.strategy.features import FeatureParams, FeatureState
from kinetic.strategy.futures_regime import RegimeDetector
from kinetic.strategy.indicators import RollingSum, StochasticState, StochasticValue
from kinetic.strategy.patterns import (
    Levels,
    SwingLevels,
    bearish_engulfing,
    bullish_engulfing,
    doji,
    hammer,
    shooting_star,
)
from kinetic.strategy.scoring import DEFAULT_WEIGHTS, Evidence, SignalScorer
from tests.unit.backtest.bt_kit import CRASH_5M

SYMBOL = "BTCUSDT"
_CRASH: list[CandleArrays] = []


def _crash() -> CandleArrays:
    if not _CRASH:
        _CRASH.append(read_candles(CRASH_5M, SYMBOL))
    return _CRASH[0]


def _arrays(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> CandleArrays:
    t = np.arange(len(c), dtype=np.int64) * 60_000
    return CandleArrays(SYMBOL, 60_000, t, o, h, lo, c, np.ones(len(c)))


def _grid(seed: int, n: int) -> CandleArrays:
    """Prices on a coarse grid: many exact ties (levels, ranges, bodies, %K at 0 and 100)."""
    rng = np.random.default_rng(seed)
    c = 100.0 + np.cumsum(rng.integers(-2, 3, n)).astype(np.float64)
    c += max(0.0, 4.0 - float(c.min(initial=4.0)))  # every low (>= c - 3) above 0
    o = np.r_[c[0], c[:-1]] + rng.integers(-1, 2, n)
    h = np.maximum(o, c) + rng.integers(0, 3, n)
    lo = np.minimum(o, c) - rng.integers(0, 3, n)
    flat = slice(n // 2, n // 2 + min(30, n // 4))  # zero ranges: %K 50, no doji, no hammer
    o[flat] = h[flat] = lo[flat] = c[flat] = c[n // 2]
    return _arrays(o, h, lo, c)


def _slice(start: int, n: int) -> CandleArrays:
    a = _crash()
    s = slice(start, start + n)
    return CandleArrays(SYMBOL, a.interval_ms, a.open_time_ms[s], a.open[s], a.high[s],
                        a.low[s], a.close[s], a.volume[s])  # fmt: skip


_WEIGHTS = st.one_of(
    st.none(),
    st.fixed_dictionaries({k: st.sampled_from([0.0, 5.0, 15.0, 20.0]) for k in DEFAULT_WEIGHTS}),
)
_MAKE = st.fixed_dictionaries(
    {
        "min_confidence": st.sampled_from([0, 10, 30, 60]),
        "confidence_scale": st.sampled_from([1.0, 1.5, 1.75, 2.0]),  # 2.0: "2" (:g)
        "weights": _WEIGHTS,
        "adx": st.sampled_from([(25.0, 15.0), (22.0, 18.0), (40.0, 0.0)]),  # the regime's
    }
)


def _make(kw: dict[str, object]) -> ConfluenceStrategy:
    weights = kw["weights"]
    scorer = None if weights is None else SignalScorer(weights)  # type: ignore[arg-type]
    trending, sideways = kw.get("adx", (25.0, 15.0))  # type: ignore[misc]
    return ConfluenceStrategy(kw["min_confidence"], scorer=scorer,  # type: ignore[arg-type]
                              confidence_scale=kw["confidence_scale"],  # type: ignore[arg-type]
                              adx_trending=trending, adx_sideways=sideways)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    make=_MAKE,
    grid=st.booleans(),
    seed=st.integers(0, 10_000),
    n=st.one_of(st.integers(1, 120), st.integers(120, 1500)),
    skips=st.integers(0, 10_000),
)
def test_decisions_and_signals_are_the_per_bar_ones(
    make: dict[str, object], grid: bool, seed: int, n: int, skips: int
) -> None:
    """The masks are exactly the bars on_candle enters on; a strategy that declared them
    and is then stepped and fast-forwarded at random returns the very same signals."""
    arrays = _grid(seed, n) if grid else _slice(seed * 6, n)
    reference = _make(make)
    signals = [reference.on_candle(arrays.candle(i)) for i in range(len(arrays))]
    live = _make(make)
    may_long, may_short = live.action_bars(SYMBOL, arrays)
    assert SYMBOL in live._pre  # the vectorised path was taken, not a replay
    assert may_long.tolist() == [s.direction is Direction.LONG for s in signals]
    assert may_short.tolist() == [s.direction is Direction.SHORT for s in signals]
    rng, i = random.Random(skips), 0
    while i < len(arrays):
        if rng.random() < 0.3:
            j = min(len(arrays), i + rng.randint(1, 80))
            live.fast_forward(SYMBOL, arrays, i, j)
            i = j
            continue
        got = live.on_candle(arrays.candle(i))  # every field, and the components' order
        assert (got, repr(got)) == (signals[i], repr(signals[i]))
        i += 1


@pytest.mark.parametrize("min_confidence", [0, 60])
def test_a_foreign_candle_or_stretch_falls_back_to_the_incremental_state(
    min_confidence: int,
) -> None:
    """A candle that is not the series' next bar (or a stretch of other arrays) makes the
    strategy build the incremental state of the bars it has seen, and go on exactly."""
    arrays = _slice(40_000, 1_500)
    reference = ConfluenceStrategy(min_confidence)
    signals = [reference.on_candle(arrays.candle(i)) for i in range(len(arrays))]
    for switch in (0, 10, 60, 700):
        live = ConfluenceStrategy(min_confidence)
        live.action_bars(SYMBOL, arrays)
        live.fast_forward(SYMBOL, arrays, 0, switch)
        copy = dataclasses.replace(arrays)  # equal, but not the arrays it declared
        live.fast_forward(SYMBOL, copy, switch, switch + 5)
        assert SYMBOL not in live._pre
        for i in range(switch + 5, switch + 300):
            assert live.on_candle(arrays.candle(i)) == signals[i]
    live, reference = ConfluenceStrategy(min_confidence), ConfluenceStrategy(min_confidence)
    live.action_bars(SYMBOL, arrays)
    for i in range(100):
        assert live.on_candle(arrays.candle(i)) == reference.on_candle(arrays.candle(i))
    odd = arrays.candle(100)
    moved = type(odd)(odd.symbol, odd.open_time_ms, odd.close_time_ms, odd.open, odd.high,
                      odd.low, odd.close + 1.0, odd.volume)  # fmt: skip
    assert live.on_candle(moved) == reference.on_candle(moved)
    assert SYMBOL not in live._pre
    for i in range(101, 400):
        assert live.on_candle(arrays.candle(i)) == reference.on_candle(arrays.candle(i))


def test_a_strategy_with_state_keeps_it_and_reset_forgets_the_series() -> None:
    arrays = _slice(40_000, 400)
    live = ConfluenceStrategy(30)
    live.on_candle(arrays.candle(0))
    live.action_bars(SYMBOL, arrays)  # masks only: the state it has is kept
    assert SYMBOL not in live._pre
    fresh = ConfluenceStrategy(30)
    fresh.action_bars(SYMBOL, arrays)
    assert SYMBOL in fresh._pre
    fresh.reset(SYMBOL)
    assert SYMBOL not in fresh._pre


def test_non_finite_data_or_a_custom_scorer_is_replayed() -> None:
    class Louder(SignalScorer):
        def decide(self, evidence):  # type: ignore[no-untyped-def]
            return super().decide(evidence)

    arrays = _slice(40_000, 600)
    for strategy in (
        ConfluenceStrategy(0, scorer=Louder()),
        ConfluenceStrategy(30, scorer=Louder()),
    ):
        may_long, may_short = strategy.action_bars(SYMBOL, arrays)
        assert SYMBOL not in strategy._pre
        if strategy.min_confidence == 0:
            assert may_long.all()  # stepped: a replay costs more
            assert may_short.all()
    close = arrays.close.copy()
    close[300] = math.nan
    broken = dataclasses.replace(arrays, close=close)
    strategy = ConfluenceStrategy(30)
    may_long, _ = strategy.action_bars(SYMBOL, broken)
    assert SYMBOL not in strategy._pre


@example([20.1, 7.3, 0.0, 0.0, 0.0], 3)  # an all-zero window after a rounding residue
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from([0.0, 0.0, -0.0, 50.0, 100.0, 1e-3, 20.1, 33.3, 1e17, 7.3]), max_size=60
    ),
    st.integers(1, 5),
)
def test_rolling_sum_replays_the_running_sum(values: list[float], m: int) -> None:
    state = RollingSum(m)
    expected = []
    for v in values:
        state.update(v)
        expected.append(state._sum)
    assert rolling_sum(np.array(values, np.float64), m).tolist() == expected


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200))
def test_stochastic_and_swing_levels_are_the_incremental_ones(seed: int, n: int) -> None:
    a = _grid(seed, n)
    k, d = stochastic(a.high, a.low, a.close, 14, 3)
    sup, res = swing_levels(a.high, a.low, a.close, 3, 10)
    stoch, levels = StochasticState(14, 3), SwingLevels(3)
    for i in range(n):
        v = stoch.update(a.high[i].item(), a.low[i].item(), a.close[i].item())
        levels.update(a.high[i].item(), a.low[i].item())
        near = levels.around(a.close[i].item())
        assert (None if math.isnan(k[i]) else (k[i].item(), d[i].item())) == (
            None if v is None else (v.k, v.d)
        )
        assert (None if math.isnan(sup[i]) else sup[i].item()) == near.support
        assert (None if math.isnan(res[i]) else res[i].item()) == near.resistance


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(52, 400), grid=st.booleans())
def test_tracked_feed_gives_each_bars_features(seed: int, n: int, grid: bool) -> None:
    arrays = _grid(seed, n) if grid else _slice(seed * 6, n)
    stepped, fed = FeatureState(FeatureParams()), FeatureState(FeatureParams())
    head = FeatureParams().warmup + 1
    for i in range(head):
        stepped.update(arrays.candle(i))
        fed.update(arrays.candle(i))
    tracked = fed.feed(arrays, head, n, track=True)
    assert tracked is not None
    for i in range(head, n):
        f = stepped.update(arrays.candle(i))
        assert f is not None
        got = [float(col[i - head]) for col in tracked]
        assert got == [f.ema_fast, f.ema_slow, f.rsi, f.atr, f.adx, f.macd_hist, f.plus_di,
                       f.minus_di]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(make=_MAKE, seed=st.integers(0, 10_000), n=st.integers(1, 400))
def test_the_vectorised_scorer_is_the_scorer(make: dict[str, object], seed: int, n: int) -> None:
    """Per-bar values drawn on coarse grids (boundaries hit exactly: RSI 35/65, %K 20/80,
    %K = %D, levels at equal distances, zero ATR), the evidence functions and the scorer
    on each bar against ``decisions`` over all of them."""
    a = _grid(seed, n)
    rng = np.random.default_rng(seed)
    o, h, lo, c = a.open, a.high, a.low, a.close

    def pick(values: list[float]) -> np.ndarray:
        return np.asarray(values, np.float64)[rng.integers(0, len(values), n)]

    k = pick([math.nan, 0.0, 10.0, 20.0, 50.0, 80.0, 90.0, 100.0])
    engulfing, hammer, doji = patterns(o, h, lo, c)
    cols = Columns(
        warm=rng.random(n) > 0.05, spread=pick([-2.0, -1.0, 0.0, 0.004, 0.5, 1.0, 1.5]),
        rsi=pick([0.0, 20.0, 34.5, 35.0, 50.0, 65.0, 80.0, 100.0]),
        atr=pick([0.0, 1.0, 2.0, 4.0]), adx=pick([20.0]),
        macd=pick([-1.0, 0.0, 1.0]).astype(np.int8),
        stoch_k=k, stoch_d=k + pick([-1.0, 0.0, 1.0]),
        support=np.where(rng.random(n) < 0.3, math.nan, c - pick([0.0, 1.0, 2.0])),
        resistance=np.where(rng.random(n) < 0.3, math.nan, c + pick([0.0, 1.0, 2.0])),
        engulfing=engulfing, hammer=hammer, doji=doji,
    )  # fmt: skip
    strategy = _make(make)
    side, confidence, level, level_side = decisions(
        cols, c, strategy.scorer.weights, strategy.confidence_scale, strategy.min_confidence
    )
    for i in range(n):
        if not cols.warm[i]:
            assert side[i] == 0
            continue
        kk = cols.stoch_k[i].item()
        stoch = None if math.isnan(kk) else StochasticValue(kk, cols.stoch_d[i].item())
        sup, res = cols.support[i].item(), cols.resistance[i].item()
        near = Levels(None if math.isnan(sup) else sup, None if math.isnan(res) else res)
        prev = a.candle(i - 1) if i else None
        evidence = _indicators(
            cols.spread[i].item(), cols.macd[i].item(), cols.rsi[i].item(), stoch
        ) + _patterns(prev, a.candle(i), near, cols.atr[i].item())  # fmt: skip
        # the one level kept for a stepped bar names the same evidence as both levels
        chosen = level[i].item()
        kept = {1: Levels(chosen, None), -1: Levels(None, chosen)}.get(level_side[i].item())
        assert _patterns(prev, a.candle(i), kept or Levels(None, None), cols.atr[i].item()) == (
            _patterns(prev, a.candle(i), near, cols.atr[i].item())
        )
        score = strategy.scorer.score(evidence)
        scaled = strategy._scaled(score.confidence)
        entered = strategy._enters(score.side, scaled)
        assert confidence[i] == scaled
        assert side[i] == {Direction.LONG: 1, Direction.SHORT: -1}.get(score.side, 0) * entered


def test_the_values_are_let_go_after_the_last_bar_and_a_later_candle_still_counts() -> None:
    arrays = _slice(40_000, 700)
    live, reference = ConfluenceStrategy(30), ConfluenceStrategy(30)
    live.action_bars(SYMBOL, _slice(40_000, 600))
    for i in range(600):
        assert live.on_candle(arrays.candle(i)) == reference.on_candle(arrays.candle(i))
    assert live._pre[SYMBOL].cols is None  # every bar of the declared series fed
    for i in range(600, 700):  # bars after the series: the incremental state goes on
        assert live.on_candle(arrays.candle(i)) == reference.on_candle(arrays.candle(i))
    assert SYMBOL not in live._pre


def test_the_looked_up_parts_memo_stays_bounded_and_exact() -> None:
    """``confluence_stepped`` keeps each signed points' rounding and text: at most
    ``_PARTS_MAX`` of them, and a signal built after the memo was emptied is the same."""
    arrays = _slice(40_000, 600)
    live, reference = ConfluenceStrategy(0), ConfluenceStrategy(0)
    live.action_bars(SYMBOL, arrays)
    with (
        mock.patch.object(confluence_stepped, "_PARTS_MAX", 3),
        mock.patch.object(confluence_stepped, "_PARTS", {}) as parts,
    ):
        for i in range(600):
            got, want = live.on_candle(arrays.candle(i)), reference.on_candle(arrays.candle(i))
            assert (got, repr(got)) == (want, repr(want))
            assert len(parts) <= 3
        assert parts  # the memo was used


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 40), seed=st.integers(0, 10_000), grid=st.booleans())
def test_blocks_join_exactly(rows: int, seed: int, grid: bool) -> None:
    """Blocks of a few bars (``_ROWS`` made small): every bar at a block's edge is right."""
    n = 400
    a = _grid(seed, n) if grid else _slice(seed * 6, n)
    with mock.patch.object(confluence_arrays, "_ROWS", rows):
        engulfing, hammer_, doji_ = patterns(a.open, a.high, a.low, a.close)
        may_long, may_short = ConfluenceStrategy(0).action_bars(SYMBOL, a)
    candles = [a.candle(i) for i in range(n)]
    assert engulfing.tolist() == [0] + [
        1 if bullish_engulfing(p, c) else -1 if bearish_engulfing(p, c) else 0
        for p, c in itertools.pairwise(candles)
    ]
    assert hammer_.tolist() == [1 if hammer(c) else -1 if shooting_star(c) else 0 for c in candles]
    assert doji_.tolist() == [doji(c) for c in candles]
    reference = ConfluenceStrategy(0)
    sides = [reference.on_candle(c).direction for c in candles]
    assert may_long.tolist() == [s is Direction.LONG for s in sides]
    assert may_short.tolist() == [s is Direction.SHORT for s in sides]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(0, 300), n=st.integers(1, 40))
def test_rolling_extremes_are_the_windows_max_and_min(seed: int, size: int, n: int) -> None:
    x = np.random.default_rng(seed).integers(-3, 4, size).astype(np.float64)
    if size < n:
        return
    windows = np.lib.stride_tricks.sliding_window_view(x, n)
    assert rolling_extreme(x, n, np.maximum).tolist() == windows.max(axis=1).tolist()
    assert rolling_extreme(x, n, np.minimum).tolist() == windows.min(axis=1).tolist()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 1_500), step=st.sampled_from([1, 3, 50]))
def test_many_swings_give_the_incremental_levels(seed: int, n: int, step: int) -> None:
    """Long series with many swing highs and lows (more than ``keep``, equal ones, flat
    stretches): every bar's support and resistance are ``SwingLevels.around``'s."""
    rng = np.random.default_rng(seed)
    c = 1_000.0 + np.cumsum(rng.integers(-step, step + 1, n)).astype(np.float64)
    h, lo = c + rng.integers(0, 2, n), c - rng.integers(0, 2, n)
    sup, res = swing_levels(h, lo, c, 3, 10)
    levels = SwingLevels(3)
    for i in range(n):
        levels.update(h[i].item(), lo[i].item())
        near = levels.around(c[i].item())
        assert (None if math.isnan(sup[i]) else sup[i].item()) == near.support
        assert (None if math.isnan(res[i]) else res[i].item()) == near.resistance


_TERM = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 5e-324, 2.0**53, 1.0 + 2.0**-52]),
    st.floats(-100.0, 100.0),
)


@settings(max_examples=300, deadline=None)
@given(width=st.integers(1, 4), data=st.data())
@example(width=3, data=[[[-0.0, -0.0, -0.0]]]).via("fsum: +0.0")
@example(width=2, data=[[[np.inf, 1.0]]]).via("fsum: inf; TwoSum: nan")
def test_fsums_are_fsum_bit_for_bit(
    width: int, data: st.DataObject | list[list[list[float]]]
) -> None:
    """Mixed magnitudes (rounded error sums), cancellation to zero, signed zeros, inf,
    nan and overflow: every row's value and sign are ``math.fsum``'s (or its error)."""
    row = st.lists(_TERM, min_size=width, max_size=width)
    rows = data[0] if isinstance(data, list) else data.draw(st.lists(row, min_size=1, max_size=30))
    want: list[object] = []
    for r in rows:
        try:
            want.append(math.fsum(r))
        except (OverflowError, ValueError) as exc:
            want.append(type(exc))
    terms = [np.array(col, np.float64) for col in zip(*rows, strict=True)]
    if any(isinstance(w, type) for w in want):
        with pytest.raises((OverflowError, ValueError)):
            fsums(terms)
        return
    got = fsums(terms)
    assert [repr(g) for g in got.tolist()] == [repr(w) for w in want]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 200), scale=st.integers(0, 60))
def test_fsums_of_random_triples(seed: int, size: int, scale: int) -> None:
    rng = np.random.default_rng(seed)
    terms = [rng.normal(0, 1, size) * 2.0 ** rng.integers(-scale - 1, scale + 1, size)
             for _ in range(3)]  # fmt: skip
    want = [math.fsum(r) for r in zip(*(t.tolist() for t in terms), strict=True)]
    assert fsums(terms).tolist() == want


@pytest.mark.parametrize("thresholds", [(25.0, 15.0), (20.0, 0.0), (30.5, 30.0)])
def test_the_flags_name_the_detectors_regime(thresholds: tuple[float, float]) -> None:
    """``flags``' regime is ``RegimeDetector.detect`` of the ADX, at the thresholds too."""
    adx = np.array([0.0, 14.999, 15.0, 20.0, 24.999, 25.0, 30.0, 30.5, 60.0, math.nan])
    n = len(adx)
    zeros, none = np.zeros(n, np.int8), np.full(n, math.nan)
    cols = Columns(np.ones(n, np.bool_), none, none, none, adx, zeros, none, none, none, none,
                   zeros, zeros, np.zeros(n, np.bool_))  # fmt: skip
    code = flags(cols, zeros, *thresholds)
    detector = RegimeDetector(*thresholds)
    assert [regime_of(c) for c in code.tolist()] == [detector.detect(a) for a in adx.tolist()]


@pytest.mark.parametrize("points", [0.04999996, 0.14999997, 0.25, 1.2345678, 7.0])
def test_a_stepped_reason_rounds_as_the_scorer(points: float) -> None:
    """``confluence_stepped`` explains each part by its points rounded to 6 places first
    (0.04999996 reads +0.1), for the parts drawn from a price and the memoised ones."""
    scorer = SignalScorer(dict.fromkeys(DEFAULT_WEIGHTS, 1.0))
    evidence = [
        Evidence("ema_trend", Direction.LONG, points, "a"),
        Evidence("rsi", Direction.SHORT, points / 3.0, "b"),
        Evidence("macd", Direction.LONG, points),
        Evidence("stochastic", Direction.SHORT, points / 9.0, "c"),
    ]
    score = scorer.score(evidence)
    items = [(e.name, e.side, scorer.points(e), e.detail or None) for e in evidence]
    with mock.patch.object(confluence_stepped, "_PARTS", {}):
        for _ in range(2):  # memoised, then from the memo
            got = confluence_stepped._explained(items, score.side, score.confidence)
            assert got == (score.components, score.reason)


@pytest.mark.parametrize(
    ("price", "taken"),
    [(math.nan, False), (math.inf, False), (-math.inf, False), (1e100, False),
     (9.9e99, True), (0.0, False), (-0.0, False), (-1.0, False), (5e-324, True)],
)  # fmt: skip
def test_prices_not_in_range_are_replayed(price: float, taken: bool) -> None:
    """A price that is not finite, not below ``LIMIT`` or not above 0: the series is
    stepped."""
    arrays = _slice(40_000, 300)
    for field in ("open", "high", "low", "close"):
        values = getattr(arrays, field).copy()
        values[150] = price
        strategy = ConfluenceStrategy(30)
        strategy.action_bars(SYMBOL, dataclasses.replace(arrays, **{field: values}))
        assert (SYMBOL in strategy._pre) is taken, field

"""The skip decisions' lookups (issue 13): ``ActionIndex.next_act`` (a table per kind),
``next_affordable`` (the first acting group checked without arrays) and
``Acting.next_act`` (a float floor of the affordable price asked before the gate and
the exact ceiling), each against a plain reference on random inputs."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinetic.backtest import skipping
from kinetic.backtest.affordable import (
    Acting,
    ceiling_floor,
    clear_now,
    configured_for_it,
    floor_terms,
    next_affordable,
    price_ceiling,
)
from kinetic.backtest.driver import timeline
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.runner import BacktestRunner
from kinetic.backtest.skipping import NEVER, ActionIndex, Kind
from kinetic.backtest.world import World, build_world
from kinetic.marketdata.files import CandleArrays
from tests.unit.backtest.bt_kit import MINUTE_MS, T0_MS, base_config, write_candles

NAN = math.nan
KINDS: tuple[Kind, ...] = ("long", "short", "any")


class _Masks:
    """Declares the given acting bars per symbol (``ActionBars``)."""

    def __init__(self, masks: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.masks = masks

    def action_bars(self, symbol: str, arrays: CandleArrays) -> tuple[np.ndarray, np.ndarray]:
        return self.masks[symbol]

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Nothing to advance."""


def _arrays(symbol: str, start_ms: int, interval_ms: int, closes: list[float],
            opens: list[float]) -> CandleArrays:  # fmt: skip
    n = len(closes)
    close, open_ = np.array(closes, np.float64), np.array(opens, np.float64)
    return CandleArrays(
        symbol, interval_ms, start_ms + interval_ms * np.arange(n, dtype=np.int64),
        open_, np.fmax(open_, close), np.fmin(open_, close), close, np.ones(n),
    )  # fmt: skip


def _index(series: dict[str, CandleArrays], strategies: list[_Masks]) -> ActionIndex:
    close, which, index = timeline(series)
    starts = np.flatnonzero(np.r_[True, close[1:] != close[:-1]]).astype(np.int32)
    return ActionIndex.build(strategies, series, close, which, index, starts, None)


_PRICE = st.one_of(st.floats(1.0, 100.0), st.just(NAN))


@st.composite
def _market(draw: Any) -> tuple[dict[str, CandleArrays], list[_Masks]]:
    """One or two symbols (the second later, or on another interval: groups are not its
    bars), random prices (some nan), random acting masks for one or two slots."""
    symbols = draw(st.sampled_from([("A",), ("A", "B")]))
    series: dict[str, CandleArrays] = {}
    for k, symbol in enumerate(symbols):
        n = draw(st.integers(1, 40))
        closes = draw(st.lists(_PRICE, min_size=n, max_size=n))
        opens = draw(st.lists(_PRICE, min_size=n, max_size=n))
        interval = MINUTE_MS * (draw(st.sampled_from([1, 3])) if k else 1)
        start = T0_MS + k * MINUTE_MS * draw(st.integers(0, 5))
        series[symbol] = _arrays(symbol, start, interval, closes, opens)
    strategies = []
    for _slot in range(draw(st.integers(1, 2))):
        masks = {}
        for symbol, arrays in series.items():
            n = len(arrays)
            long = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            short = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            masks[symbol] = (np.array(long, np.bool_), np.array(short, np.bool_))
        strategies.append(_Masks(masks))
    return series, strategies


def _groups_of(index: ActionIndex, series: dict[str, CandleArrays], w: int) -> list[int]:
    arrays = list(series.values())[w]
    return [index.group(w, bar) for bar in range(len(arrays))]


def _acting_ref(index: ActionIndex, series: dict[str, CandleArrays], strategy: _Masks,
                w: int, kind: Kind) -> list[int]:  # fmt: skip
    """The sorted groups holding a bar of symbol ``w`` where ``strategy`` may act."""
    long, short = strategy.masks[list(series)[w]]
    may = {"long": long, "short": short, "any": long | short}[kind]
    groups = _groups_of(index, series, w)
    return sorted({groups[b] for b in range(len(groups)) if may[b]})


def _price_ref(arrays: CandleArrays, bar: int, next_open: bool) -> float:
    if next_open and bar + 1 < len(arrays):
        return float(arrays.open[bar + 1])
    return float(arrays.close[bar])


@settings(max_examples=200, deadline=None)
@given(market=_market(), data=st.data())
def test_next_act_is_the_first_acting_group_at_or_after(market: Any, data: Any) -> None:
    _check_next_act(market, data)
    series, strategies = market
    index = _index(series, strategies)
    index.next_act(0, 0, "long", 0)
    assert index.nexts[0][0]["long"].dtype == np.int32  # half the memory of int64


@settings(max_examples=100, deadline=None)
@given(market=_market(), data=st.data())
def test_next_act_from_int64_tables(market: Any, data: Any) -> None:
    """Group numbers past the int32 range: int64 tables, where the int32 stand-in for
    ``NEVER`` is an ordinary group number (2 here, for the test's sake)."""
    with patch.object(skipping, "_NONE_32", 2):
        _check_next_act(market, data)


def _check_next_act(market: Any, data: Any) -> None:
    series, strategies = market
    index = _index(series, strategies)
    groups = len(index.static_end)
    for slot, strategy in enumerate(strategies):
        for w in range(len(series)):
            for kind in data.draw(st.permutations(KINDS)):  # tables made in any order
                acting = _acting_ref(index, series, strategy, w, kind)
                for g in range(groups + 3):
                    want = next((a for a in acting if a >= g), NEVER)
                    assert index.next_act(slot, w, kind, g) == want


@settings(max_examples=200, deadline=None)
@given(
    market=_market(),
    next_open=st.booleans(),
    top=st.one_of(st.floats(0.0, 110.0), st.just(-math.inf)),
    data=st.data(),
)
def test_next_affordable_is_the_first_acting_group_at_or_below_the_price(
    market: Any, next_open: bool, top: float, data: Any
) -> None:
    series, strategies = market
    index = _index(series, strategies)
    groups = len(index.static_end)
    slot = data.draw(st.integers(0, len(strategies) - 1))
    w = data.draw(st.integers(0, len(series) - 1))
    kind = data.draw(st.sampled_from(KINDS))
    arrays = list(series.values())[w]
    acting = _acting_ref(index, series, strategies[slot], w, kind)
    bar_of = {grp: b for b, grp in reversed(list(enumerate(_groups_of(index, series, w))))}
    g = data.draw(st.integers(0, groups + 1))
    h = data.draw(st.integers(g, groups + 2))
    got = next_affordable(index, slot, w, kind, g, h, arrays, next_open, top)
    inside = [a for a in acting if g <= a < h]
    fits = [a for a in inside if not _price_ref(arrays, bar_of[a], next_open) > top]
    if fits:
        assert got == fits[0]
    else:  # none: the first acting group from ``h`` on (or a larger one)
        assert got == next((a for a in acting if a >= h), NEVER)


# ---------------------------------------------------------------- the floor, real worlds
def _world(tmp: Path, futures: bool, both: bool, units: str, **kw: Any) -> World:
    data = write_candles(tmp / "BTCUSDT_1m.csv", [100.0, 101.0, 102.0])
    engines = ("spot", "futures") if both else ("futures",) if futures else ("spot",)
    opts = BacktestOptions(
        symbols=("BTCUSDT",), data=(data,), strategy="sma_cross", raw=not both,
        engines=engines, units=units, **kw,
    )  # fmt: skip
    config, series, _funding = BacktestRunner(base_config(), opts).prepare()
    return build_world(config, opts, list(series), T0_MS / 1000.0)


_CASH = st.one_of(
    st.floats(0.0, 1e13),
    st.sampled_from([0.0, 1e-8, 0.5, 1.0, 99.9, 1e12]),
    st.just(-5.0),
    st.sampled_from([5e-321, 1e-295, 1e-280, 1e300, 1.7e308]),  # near the float limits
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    futures=st.booleans(),
    both=st.booleans(),
    units=st.sampled_from(["whole", "0.1", "0.001", "exchange"]),
    fee=st.sampled_from([0.0, 0.001, 0.004]),
    fee_fixed=st.sampled_from([None, 0.5, 50.0]),
    stake=st.sampled_from([None, None, None, 0.5, 1.0]),
    slippage=st.sampled_from(["0", "5", "30"]),
    leverage=st.sampled_from([("1", "1"), ("1", "3"), ("2", "5"), ("3", "20")]),
    size_pct=st.sampled_from(["1", "33.3", "100"]),
    capital=st.sampled_from([("50", "50"), ("70", "30"), ("10", "90")]),
    cash=st.lists(_CASH, min_size=2, max_size=2),
)
def test_the_floor_is_at_or_below_the_exact_ceiling(
    tmp_path_factory: pytest.TempPathFactory,
    futures: bool,
    both: bool,
    units: str,
    fee: float,
    fee_fixed: float | None,
    stake: float | None,
    slippage: str,
    leverage: tuple[str, str],
    size_pct: str,
    capital: tuple[str, str],
    cash: list[float],
) -> None:
    """Every engine flat with any cash (the exact ceiling decides only where it is a
    number): ``ceiling_floor`` never lies above ``price_ceiling``, and is ``-inf`` where
    that is ``-inf`` or ``0`` (everything skipped: a floor would step those bars)."""
    sets = {
        "slippage_bps": slippage, "futures_leverage_min": leverage[0],
        "futures_leverage_max": leverage[1], "spot_position_size_pct": size_pct,
        "spot_capital_pct": capital[0], "futures_capital_pct": capital[1],
    }  # fmt: skip
    world = _world(
        tmp_path_factory.mktemp("floor"), futures, both, units, fee=fee, fee_fixed=fee_fixed,
        stake=stake, sets=sets, all_in=not both,
    )  # fmt: skip
    for slot, amount in zip(world.slots, cash, strict=False):
        slot.engine.d.positions.cash = Decimal(str(amount))
    for k, slot in enumerate(world.slots):
        top = price_ceiling(slot.engine, "BTCUSDT", 1e-9)
        terms = floor_terms(slot.engine, "BTCUSDT")
        floor = -math.inf if terms is None else ceiling_floor(terms, world, k)
        if top is not None:
            assert floor <= top
            if top <= 0:
                assert floor == -math.inf
            if floor > -math.inf:  # and close below it
                assert floor >= top * (1 - 1e-5)


def test_no_floor_from_a_cash_the_floats_cancel(tmp_path: Path) -> None:
    """Spot's cash a hair above 5 (its float 1.5 times as far above), futures' -5: the
    total, 6e-16, is mostly rounding in floats, which would put the floor above the
    ceiling; a negative cash gives no floor."""
    world = _world(tmp_path, False, True, "0.001", fee=0.0, sets={"spot_position_size_pct": "100"})
    world.slots[0].engine.d.positions.cash = Decimal("5.0000000000000006")
    world.slots[1].engine.d.positions.cash = Decimal("-5")
    top = price_ceiling(world.slots[0].engine, "BTCUSDT", 1e-9)
    terms = floor_terms(world.slots[0].engine, "BTCUSDT")
    assert top is not None
    assert terms is not None
    assert 0 < top < 1e-9
    assert ceiling_floor(terms, world, 0) == -math.inf


@pytest.mark.parametrize("cash", ["5E-321", "1E-300", "1E+400", "1.7E+308", "1E+307"])
def test_no_floor_near_the_float_limits(tmp_path: Path, cash: str) -> None:
    """A subnormal quotient has lost its relative precision, a huge one is inf; two
    engines' cash of 1.7e308 sum to inf in floats, and 1e307 times a percentage too
    (the engine's own cash would count)."""
    world = _world(tmp_path, False, True, "whole", fee=0.0)
    engine = world.slots[0].engine
    for slot in world.slots:
        slot.engine.d.positions.cash = Decimal(cash)
    terms = floor_terms(engine, "BTCUSDT")
    assert terms is not None
    assert ceiling_floor(terms, world, 0) == -math.inf
    assert price_ceiling(engine, "BTCUSDT", 1e-9) is not None


@pytest.mark.parametrize("futures", [False, True])
def test_no_floor_with_a_stake(tmp_path: Path, futures: bool) -> None:
    """A stake below a lot is dropped at any price (ceiling -inf): a floor would step it."""
    world = _world(tmp_path, futures, False, "whole", fee=0.0, stake=0.5, all_in=True)
    engine = world.slots[0].engine
    engine.d.positions.cash = Decimal(1000)
    assert price_ceiling(engine, "BTCUSDT", 1e-9) == -math.inf
    assert floor_terms(engine, "BTCUSDT") is None


@pytest.mark.parametrize(
    ("cash", "units", "fee_fixed"),
    [
        # the fixed fee takes all but 6e-17 of the cash, whose float is 1.1e-16 above
        ("0.50000000000000006", "whole", 0.5),
        # a lot of 1e-320: its float (subnormal) is 1.1e-5 below
        ("1E-300", "1E-320", None),
    ],
)
def test_no_floor_where_the_floats_lose_the_precision(
    tmp_path: Path, cash: str, units: str, fee_fixed: float | None
) -> None:
    world = _world(tmp_path, False, False, units, fee=0.0, fee_fixed=fee_fixed, all_in=True)
    engine = world.slots[0].engine
    engine.d.positions.cash = Decimal(cash)
    top = price_ceiling(engine, "BTCUSDT", 1e-9)
    assert top is not None
    assert 0 < top < math.inf
    terms = floor_terms(engine, "BTCUSDT")
    floor = -math.inf if terms is None else ceiling_floor(terms, world, 0)
    assert floor == -math.inf


@pytest.mark.parametrize("case", ["nan_close", "refused_before", "not_configured"])
def test_where_the_rule_is_off_every_acting_group_counts(tmp_path: Path, case: str) -> None:
    """Cash for nothing (no floor, an exact ceiling of 0), prices of 100: the rule would
    skip every signal, but a nan close, a refusal to clear or a config the rule does not
    cover turn it off: the first acting group is the answer."""
    world = _world(tmp_path, False, False, "whole", fee=0.001, all_in=True)
    engine = world.slots[0].engine
    engine.d.positions.cash = Decimal("50")
    closes = [100.0] * 6
    if case == "nan_close":
        closes[-1] = NAN
    series = {"BTCUSDT": _arrays("BTCUSDT", T0_MS, MINUTE_MS, closes, [100.0] * 6)}
    mask = np.array([0, 1, 0, 1, 1, 0], np.bool_)
    strategy = _Masks({"BTCUSDT": (mask, mask)})
    engine.d.strategy = strategy
    acting = Acting(_index(series, [strategy]), world, series, False, 1e-9)
    if case == "refused_before":
        engine.d.risk._last_refusal["BTCUSDT"] = "size"
    if case == "not_configured":
        acting._configured = [False]
    assert acting.next_act(0, 0, "long", 2, 6, True) == 3
    assert acting.next_act(0, 0, "long", 2, 6, False) == 3


def _flat_engine_with_cash(tmp_path: Path, cash: str) -> Acting:
    """A flat all-in spot engine holding ``cash``, prices 100, whole units, signals on
    groups 1, 3 and 4 of 6."""
    world = _world(tmp_path, False, False, "whole", fee=0.001, all_in=True)
    world.slots[0].engine.d.positions.cash = Decimal(cash)
    series = {"BTCUSDT": _arrays("BTCUSDT", T0_MS, MINUTE_MS, [100.0] * 6, [100.0] * 6)}
    mask = np.array([0, 1, 0, 1, 1, 0], np.bool_)
    strategy = _Masks({"BTCUSDT": (mask, mask)})
    world.slots[0].engine.d.strategy = strategy
    return Acting(_index(series, [strategy]), world, series, False, 1e-9)


def test_where_the_rule_is_on_no_signal_counts(tmp_path: Path) -> None:
    """Cash 50, prices 100, whole units: no signal of a flat engine buys anything."""
    acting = _flat_engine_with_cash(tmp_path, "50")
    assert acting.next_act(0, 0, "long", 2, 6, True) == NEVER  # 3 and 4 unaffordable
    assert acting.next_act(0, 0, "long", 2, 4, True) == 4  # the first from h on
    assert acting.next_act(0, 0, "long", 2, 6, False) == 3  # not flat: every signal


def test_without_a_floor_an_affordable_first_group_is_the_answer(tmp_path: Path) -> None:
    """Cash 1000 buys a lot at 100: with no floor the exact ceiling says so."""
    acting = _flat_engine_with_cash(tmp_path, "1000")
    acting._terms[0, 0] = None
    assert acting.next_act(0, 0, "long", 2, 6, True) == 3


@pytest.mark.parametrize("futures", [False, True])
def test_the_usual_account_has_a_floor_just_below_the_ceiling(
    tmp_path: Path, futures: bool
) -> None:
    world = _world(tmp_path, futures, False, "whole", fee=0.001, fee_fixed=0.5, all_in=True)
    engine = world.slots[0].engine
    engine.d.positions.cash = Decimal("123456.789")
    top = price_ceiling(engine, "BTCUSDT", 1e-9)
    terms = floor_terms(engine, "BTCUSDT")
    assert top is not None
    assert terms is not None
    floor = ceiling_floor(terms, world, 0)
    assert top * (1 - 2e-6) <= floor <= top


def _reference_next_act(acting: Acting, slot: int, w: int, kind: Kind, g: int, h: int,
                        flat: bool) -> int:  # fmt: skip
    """``Acting.next_act`` as it was: the gate, then the exact ceiling, no floor."""
    first = acting.index.next_act(slot, w, kind, g)
    if first >= h or not flat or not acting._positive[w]:
        return first
    engine, symbol = acting.world.slots[slot].engine, acting._symbols[w]
    if not acting._configured[slot] or not clear_now(engine, symbol, acting.world):
        return first
    top = price_ceiling(engine, symbol, acting.margin)
    if top is None:
        return first
    arrays = acting._arrays[w]
    return next_affordable(acting.index, slot, w, kind, first, h, arrays, acting.next_open, top)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    futures=st.booleans(),
    units=st.sampled_from(["whole", "0.1", "exchange"]),
    fee_fixed=st.sampled_from([None, 0.5]),
    stake=st.sampled_from([None, None, 0.5]),
    cash=st.floats(0.0, 500.0),
    next_open=st.booleans(),
    closes=st.lists(st.floats(1.0, 200.0), min_size=3, max_size=30),
    nan_close=st.sampled_from([False, False, False, True]),
    floor_off=st.booleans(),
    refused=st.booleans(),
    held=st.sampled_from([False, False, True]),
    data=st.data(),
)
def test_acting_decides_as_the_exact_ceiling_alone(
    tmp_path_factory: pytest.TempPathFactory,
    futures: bool,
    units: str,
    fee_fixed: float | None,
    stake: float | None,
    cash: float,
    next_open: bool,
    closes: list[float],
    nan_close: bool,
    floor_off: bool,
    refused: bool,
    held: bool,
    data: Any,
) -> None:
    """The floor asked first changes no answer: prices around what the cash buys (and
    with no floor, the exact ceiling's path alone; with a config or a state the rule
    does not cover, every acting group)."""
    world = _world(
        tmp_path_factory.mktemp("acting"), futures, False, units, fee_fixed=fee_fixed,
        stake=stake, fee=0.001, all_in=True,
        sets={"futures_leverage_min": "1", "futures_leverage_max": "2"},
    )  # fmt: skip
    world.slots[0].engine.d.positions.cash = Decimal(str(cash))
    opens = [closes[0], *closes[:-1]]
    if nan_close:  # not a positive price: the rule is off for the symbol
        closes = [*closes[:-1], NAN]
    series = {"BTCUSDT": _arrays("BTCUSDT", T0_MS, MINUTE_MS, closes, opens)}
    n = len(closes)
    long = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.bool_)
    short = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.bool_)
    strategy = _Masks({"BTCUSDT": (long, short)})
    world.slots[0].engine.d.strategy = strategy
    acting = Acting(_index(series, [strategy]), world, series, next_open, 1e-9)
    assert acting._configured == [configured_for_it(world.slots[0].engine)]
    if floor_off:
        acting._terms[0, 0] = None  # no terms: a floor of -inf
    if refused:  # as if the rules refused some signal (configured_for_it): no ceiling
        acting._configured = [False]
    if held:  # the last signal was refused: the next is counted (clear_now)
        world.slots[0].engine.d.risk._last_refusal["BTCUSDT"] = "size"
    kind: Kind = "any" if futures else "long"
    for g in range(n):
        for h in (g + 1, min(n, g + 5), n):
            for flat in (True, False):
                want = _reference_next_act(acting, 0, 0, kind, g, h, flat)
                assert acting.next_act(0, 0, kind, g, h, flat) == want

"""The skip decisions' lookups (issue 13): ``ActionIndex.next_act`` (a table per kind)
against a plain reference on random inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetic.backtest.driver import timeline
from kinetic.backtest.skipping import NEVER, ActionIndex, Kind
from kinetic.marketdata.files import CandleArrays
from tests.unit.backtest.bt_kit import MINUTE_MS, T0_MS

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

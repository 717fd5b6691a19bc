"""Where a backtest may fast-forward: the groups on which a strategy could make an
engine act, and the first bar on which an open position's levels could be touched.

Built once per run (vectorised), asked at run time with the engines' current state:

* ``ActionIndex.next_act(slot, symbol, kind, g)``: the first group at or after ``g``
  holding a bar of ``symbol`` on which the slot's strategy could return a signal of
  ``kind`` (``LONG``, ``SHORT`` or ``ANY``). Which kind matters depends on the position:
  flat spot engines act on LONG only (SHORT is an exit), flat futures engines on either,
  an open position on the opposite side only (the same side is ignored by both engines).
* ``first_touch``: the first bar of a range whose low or high reaches one of the given
  levels (stop, take-profit, resting stop orders, liquidation, trailing activation),
  with a relative margin.
* groups that only a strategy or a position can stop from being skipped
  (``static_end``): not the first or last group, the same UTC day as the group before
  (the risk monitor's day), no funding settlement due at its close.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from kinetic.strategy.base import ActionBars, FastForward

if TYPE_CHECKING:
    from kinetic.backtest.data import FundingRates
    from kinetic.marketdata.files import CandleArrays

DAY_MS = 86_400_000
NEVER = 1 << 62  # ``next_act`` when the strategy cannot act again
_NONE_32 = 2**31 - 1  # ``NEVER`` in an int32 ``next_act`` table (not a group number)
Kind = Literal["long", "short", "any"]


def action_masks(strategy: object, symbol: str, arrays: CandleArrays) -> tuple[np.ndarray, ...]:
    """``(may_long, may_short)`` from ``ActionBars``, or from ``FastForward``'s quiet bars."""
    if isinstance(strategy, ActionBars):
        may_long, may_short = strategy.action_bars(symbol, arrays)
        return np.asarray(may_long, np.bool_), np.asarray(may_short, np.bool_)
    assert isinstance(strategy, FastForward)
    loud = ~np.asarray(strategy.quiet_bars(symbol, arrays), np.bool_)
    return loud, loud


def can_skip(strategy: object) -> bool:
    """True when the strategy declares its acting bars and can fast-forward its state."""
    return isinstance(strategy, ActionBars | FastForward)


@dataclass
class ActionIndex:
    """Acting groups per slot and symbol, the group of every bar, the static runs."""

    # per symbol: the group of each of its bars (non-decreasing); empty with ``identity``
    group_of: list[np.ndarray]
    # per slot, per symbol: sorted acting groups ("any" made from the two on first use)
    acts: list[list[dict[Kind, np.ndarray]]]
    static_end: np.ndarray  # per group: the end of its run of statically skippable groups
    # one symbol: bar i is group i, so the bar ranges below need no search (the common
    # case, asked once or twice per skipped stretch)
    identity: bool = False
    # per slot, per symbol, per kind: ``next_act`` for every group (made on first use)
    nexts: list[list[dict[Kind, np.ndarray]]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.nexts = [[{} for _ in per_symbol] for per_symbol in self.acts]

    @classmethod
    def build(
        cls,
        strategies: Sequence[object],
        series: dict[str, CandleArrays],
        close: np.ndarray,
        which: np.ndarray,
        index: np.ndarray,
        starts: np.ndarray,
        funding: FundingRates | None,
    ) -> ActionIndex:
        n, groups = len(close), len(starts)
        identity = len(series) == 1 and groups == n
        # int64: these are searched with Python ints, and numpy casts an int32 array to
        # int64 for that, a copy per search (a scan of the run per step)
        group_of: list[np.ndarray] = []  # not needed (nor kept) when bar i is group i
        if not identity:
            sizes = np.diff(np.r_[starts, n])
            group_sorted = np.repeat(np.arange(groups, dtype=np.int64), sizes)
            for w, arrays in enumerate(series.values()):
                mine = which == w
                go = np.empty(len(arrays), np.int64)
                go[index[mine]] = group_sorted[mine]
                group_of.append(go)
        acts: list[list[dict[Kind, np.ndarray]]] = []
        for strategy in strategies:
            per_symbol: list[dict[Kind, np.ndarray]] = []
            for w, (symbol, arrays) in enumerate(series.items()):
                may_long, may_short = action_masks(strategy, symbol, arrays)
                if identity:  # flatnonzero: int64 (intp) bar = group numbers
                    long, short = np.flatnonzero(may_long), np.flatnonzero(may_short)
                else:
                    long, short = group_of[w][may_long], group_of[w][may_short]
                per_symbol.append({"long": long, "short": short})  # "any": on first use
            acts.append(per_symbol)
        return cls(group_of, acts, _static_end(close, starts, funding), identity)

    def acting(self, slot: int, symbol: int, kind: Kind) -> np.ndarray:
        """The sorted groups where the slot's strategy could give a signal of ``kind``."""
        per_kind = self.acts[slot][symbol]
        groups = per_kind.get(kind)
        if groups is None:  # "any" (flat futures engines only): both sides, made once
            groups = per_kind["any"] = np.union1d(per_kind["long"], per_kind["short"])
        return groups

    def next_act(self, slot: int, symbol: int, kind: Kind, g: int) -> int:
        """The first group ``>= g`` where the slot's strategy could act (``NEVER`` if none)."""
        table = self.nexts[slot][symbol].get(kind)
        if table is None:
            table = self._next_table(slot, symbol, kind)
        # one lookup (a binary search of the acting groups cost ~1 us per call: the
        # driver asks once per engine and symbol on every skip decision)
        if g >= len(table):
            return NEVER
        first = table.item(g)
        # (an int64 table holds NEVER itself, and may hold the group number _NONE_32)
        return first if first != _NONE_32 or table.itemsize == 8 else NEVER

    def _next_table(self, slot: int, symbol: int, kind: Kind) -> np.ndarray:
        """Per group ``g`` (and one past the last), the first acting group ``>= g``.

        int32 when every group number fits (half the memory: a table per kind lives for the
        whole run), with ``_NONE_32`` for ``NEVER``; int64 (``NEVER`` itself) otherwise.
        """
        groups = self.acting(slot, symbol, kind)
        size = len(self.static_end) + 1
        if size < _NONE_32:
            table = np.full(size, _NONE_32, np.int32)
        else:
            table = np.full(size, NEVER, np.int64)
        table[groups] = groups
        backwards = table[::-1]  # a running minimum from the end (in place)
        np.minimum.accumulate(backwards, out=backwards)
        self.nexts[slot][symbol][kind] = table
        return table

    def bars(self, symbol: int, g: int, h: int) -> tuple[int, int]:
        """The range of ``symbol``'s bars published in groups ``g..h-1``."""
        if self.identity:
            return g, h
        lo, hi = self.group_of[symbol].searchsorted((g, h)).tolist()
        return lo, hi

    def bar(self, symbol: int, g: int) -> int:
        """``symbol``'s first bar published in group ``g`` or later (its bar there, if any)."""
        return g if self.identity else int(self.group_of[symbol].searchsorted(g))

    def group(self, symbol: int, bar: int) -> int:
        """The group in which ``symbol``'s bar ``bar`` is published."""
        return bar if self.identity else int(self.group_of[symbol].item(bar))

    def latest(self, symbol: int, column: np.ndarray, g: int, h: int) -> np.ndarray:
        """For each group ``g..h-1``, ``column`` at ``symbol``'s latest bar."""
        if self.identity:
            return column[g:h]
        groups = np.arange(g, h, dtype=np.int64)
        return column[self.group_of[symbol].searchsorted(groups, side="right") - 1]


def _static_end(close: np.ndarray, starts: np.ndarray, funding: FundingRates | None) -> np.ndarray:
    groups = len(starts)
    if groups == 0:
        return np.zeros(0, np.int32)
    cand = np.ones(groups, np.bool_)
    day = (close[starts] + 1) // DAY_MS
    cand[1:] &= day[1:] == day[:-1]
    if funding is not None and len(funding):
        due = np.searchsorted(funding.ts_ms, close[starts], side="right")
        cand[1:] &= due[1:] == due[:-1]
    cand[0] = cand[-1] = False
    stops = np.flatnonzero(~cand)  # the last group is never a candidate: not empty
    return np.asarray(stops[np.searchsorted(stops, np.arange(groups))], np.int32)


# up to this many bars a loop over Python floats is quicker than two numpy reductions
# (~1-3 us against ~3.5 us; most ranges asked are a few bars long)
SHORT_RANGE = 16
_lowest, _highest = np.minimum.reduce, np.maximum.reduce  # no ``ndarray.min`` wrapper


def first_touch(
    low: np.ndarray, high: np.ndarray, below: list[float], above: list[float], margin: float
) -> int:
    """The first bar whose low reaches a level of ``below`` or whose high one of ``above``.

    ``len(low)`` when none can (levels are widened by the relative ``margin``; a nan
    bar reaches nothing).
    """
    n = len(low)
    if n == 0 or not (below or above):
        return n
    floor = max(below) * (1 + margin) if below else -math.inf
    ceiling = min(above) * (1 - margin) if above else math.inf
    if n <= SHORT_RANGE:
        for i, (lo, hi) in enumerate(zip(low.tolist(), high.tolist(), strict=True)):
            if lo <= floor or hi >= ceiling:
                return i
        return n
    # the usual answer (nothing reached) from two reductions, no temporary arrays
    if _lowest(low) > floor and _highest(high) < ceiling:
        return n
    touch = (low <= floor) | (high >= ceiling)
    first = int(touch.argmax())
    return first if touch[first] else n  # none after all (a nan extreme)

"""Whole-run price extremes and batched curve writes for the fast-forward (one symbol).

Skipping a stretch needs its price extremes (can an exit be touched? what are the
lowest and highest portfolio values?) and, afterwards, one curve value per bar. Doing
that with numpy per stretch costs a dozen small array calls each time; for one symbol,
where every candidate run is known before the loop starts, ``RunStats`` computes the
extremes of every maximal run in one vectorised pass, and ``DeferredCurve`` writes the
skipped values of all stretches in one pass at the end, with the very float operations
the driver's ``_mark`` performs on one close (so the values are bit-identical).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from kinetic.marketdata.files import CandleArrays


class RunExtremes(NamedTuple):
    """Price extremes over the bars of one maximal candidate run ``g..end-1``."""

    end: int
    low_min: float
    high_max: float
    close_min: float
    close_max: float
    close_last: float


class RunStats:
    """``RunExtremes`` of every maximal run of candidate groups (one bar per group)."""

    def __init__(self, arrays: CandleArrays, runs: np.ndarray) -> None:
        groups = len(runs)
        cand = runs > np.arange(groups)
        first = cand & np.r_[True, ~cand[:-1]] if groups else cand
        starts = np.flatnonzero(first)
        ends = runs[starts]
        self._by_start: dict[int, RunExtremes] = {}
        if len(starts) == 0:
            return
        # reduceat over [start, end) pairs: interleave both bounds, keep every other result
        bounds = np.empty(2 * len(starts), np.int64)
        bounds[0::2], bounds[1::2] = starts, ends
        bounds = bounds[:-1] if ends[-1] >= len(arrays) else bounds

        def over(ufunc: np.ufunc, column: np.ndarray) -> list[float]:
            out: list[float] = ufunc.reduceat(column, bounds)[0::2].tolist()
            return out

        lows, highs = over(np.minimum, arrays.low), over(np.maximum, arrays.high)
        cmin, cmax = over(np.minimum, arrays.close), over(np.maximum, arrays.close)
        last = arrays.close[ends - 1].tolist()
        for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            self._by_start[s] = RunExtremes(e, lows[k], highs[k], cmin[k], cmax[k], last[k])

    def get(self, g: int, h: int) -> RunExtremes | None:
        """The extremes of ``g..h-1`` when that is a whole maximal run, else None."""
        found = self._by_start.get(g)
        return found if found is not None and found.end == h else None


@dataclass
class DeferredCurve:
    """Curve values of skipped stretches, written in one pass by ``apply``.

    Flat stretches carry one value; a held stretch (one engine, one spot position) is
    ``cash + quantity x close`` per bar, in that operation order (``_mark``'s).
    """

    flat: list[tuple[int, int, float]] = field(default_factory=list)  # (at, n, value)
    held: list[tuple[int, int, int, float, float]] = field(default_factory=list)
    # held: (at, n, first bar, cash, quantity)

    def apply(self, equity: np.ndarray, exposed: np.ndarray, close: np.ndarray) -> None:
        if self.flat:
            at, n, value = (np.asarray(c) for c in zip(*self.flat, strict=True))
            equity[_ranges(at, n)] = np.repeat(value.astype(np.float64), n)
        if self.held:
            at, n, bar, cash, qty = (np.asarray(c) for c in zip(*self.held, strict=True))
            where = _ranges(at, n)
            values = np.repeat(qty.astype(np.float64), n) * close[_ranges(bar, n)]
            values += np.repeat(cash.astype(np.float64), n)  # fl(cash + fl(qty x close))
            equity[where] = values
            exposed[where] = True
        self.flat.clear()
        self.held.clear()


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(s, s + n)`` for each pair, vectorised."""
    total = int(lengths.sum())
    offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return np.asarray(offsets + np.arange(total), np.int64)

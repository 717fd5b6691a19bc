"""Exact action masks from a shadow replay, for strategies whose state is not vectorised.

``smc`` and ``confluence`` decide every bar at once (``smc_arrays``,
``confluence_arrays``); a series those cannot describe exactly (prices not finite, open
times not increasing, ...) falls back to this shadow replay, so they still declare
``ActionBars``: a fresh state
(the *shadow*) is fed every bar once, before the backtest starts, and its decisions are
the masks: exact, so the smallest superset there is. The shadow decides without building
signals (reason text, components), so it costs less than ``on_candle``. The live state is
then fast-forwarded by the strategy's own update (no scoring, no signal), which a skipped
bar needs anyway. A skipped bar costs the shadow's decision and the update; a stepped one
costs ``on_candle`` and the engine, OMS, risk and venue steps, which cost more.

The candles are built as the backtest driver builds them (the same floats), and
``on_candle`` only depends on the candles up to the one passed in (``Strategy``), so the
shadow's decision on a bar is the live strategy's decision on it, whatever was skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from kinetic.domain import Candle, Direction

if TYPE_CHECKING:
    from kinetic.marketdata.files import CandleArrays


CHUNK = 4096  # bars converted to Python scalars at a time (all of them: ~100 MB at 500k)


def bar_candles(arrays: CandleArrays, start: int = 0, stop: int | None = None) -> Iterator[Candle]:
    """The closed candles of bars ``start..stop-1``, as the backtest driver builds them."""
    stop = len(arrays) if stop is None else stop
    step = arrays.interval_ms - 1
    symbol = arrays.symbol
    cols = (arrays.open_time_ms, arrays.open, arrays.high, arrays.low, arrays.close,
            arrays.volume)  # fmt: skip
    for lo in range(start, stop, CHUNK):
        hi = min(lo + CHUNK, stop)
        for t, o, h, low, c, v in zip(*(col[lo:hi].tolist() for col in cols), strict=True):
            yield Candle(symbol, t, t + step, o, h, low, c, v)


def shadow_masks(
    decide: Callable[[Candle], Direction], arrays: CandleArrays
) -> tuple[np.ndarray, np.ndarray]:
    """``(is_long, is_short)`` per bar: the direction ``decide`` gave on each bar in order.

    ``decide`` is a fresh state's step: the direction ``on_candle`` returns, without
    building the signal (reason text, components), which only stepped bars need.
    """
    sides = np.fromiter((_SIDE[decide(c)] for c in bar_candles(arrays)), np.int8, len(arrays))
    return sides == 1, sides == -1


_SIDE = {Direction.LONG: 1, Direction.SHORT: -1, Direction.FLAT: 0}

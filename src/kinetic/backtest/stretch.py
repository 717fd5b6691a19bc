"""What the driver reads from the engines before it skips a stretch of groups.

Moved out of ``driver`` (its module was at the size limit), each as a plain function the
``Driver`` class binds as its method: whether an engine's only orders are its positions'
protective stops (``only_stops``), the first group that could reach a position's price
levels (``levels_clear_until``), and the portfolio value after each group of the
stretch (``stretch_values``), computed with the very float operations ``Driver._mark``
performs on one group (written to the curve in batches: ``CurveFill``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from kinetic.backtest.skipping import first_touch
from kinetic.domain import MarketType, OrderType, Position, PositionSide, Side

if TYPE_CHECKING:
    from kinetic.backtest.driver import Driver

MARGIN = 1e-9  # relative safety margin on price and value comparisons when skipping
# enum members as module globals (an Enum class's attribute costs a ``__getattr__`` hook)
_SPOT, _FUTURES = MarketType.SPOT, MarketType.FUTURES
_LONG, _SELL = PositionSide.LONG, Side.SELL
_STOP_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
# ``side.exit_side`` of each position side (two properties and two Enum class lookups)
_EXIT_SIDE = {side: side.exit_side for side in PositionSide}
_MIN, _MAX = np.minimum.reduce, np.maximum.reduce  # ``a.min()`` without its wrapper
COARSE = 64  # bars per block of ``coarse_extremes``


@dataclass(slots=True)
class Stretch:
    """Groups ``g..h-1`` to skip: their values and extremes.

    ``values``: the value after each group; None when they are all ``low`` (nothing
    held) or, with ``held``, ``scale * close + base`` at each group's close of the one
    symbol (bar ``i`` is group ``i``), left to ``CurveFill`` to compute."""

    g: int
    h: int
    low: float
    high: float
    last: float
    held: bool
    values: np.ndarray | None
    scale: float = 0.0
    base: float = 0.0
    # >= 0: ``low`` and ``high`` bound the values' extremes (from the ``COARSE``-bar
    # blocks of symbol ``bounded``'s closes that hold the stretch) and are not the
    # extremes themselves; ``exact_extremes`` makes them
    bounded: int = -1


FLUSH_BARS = 1 << 16  # deferred curve values computed at once (bounds the temporaries)


class CurveFill:
    """The curve values of skipped stretches, written in batches instead of per stretch.

    A stretch's values go into the curve's arrays with a few numpy calls of ~1-2 us
    each, most of the cost of a short stretch; here they are kept as ``(g, h, value)``
    (nothing held: one value) or ``(g, h, scale, base)`` (``scale * close[i] + base``
    for each group ``i``: the very two float operations, in that order, that
    ``stretch_values`` performs) and computed for many stretches at once, elementwise:
    the same float64 operations on the same operands, so the same values. ``flush``
    writes them (it must run before the curve is read).
    """

    __slots__ = ("_bars", "_close", "_equity", "_exposed", "_flat", "_held")

    def __init__(self, equity: np.ndarray, exposed: np.ndarray, close: np.ndarray | None) -> None:
        self._equity, self._exposed, self._close = equity, exposed, close
        self._flat: list[tuple[int, int, float]] = []
        self._held: list[tuple[int, int, float, float]] = []
        self._bars = 0

    def flat(self, g: int, h: int, value: float) -> None:
        self._flat.append((g, h, value))
        self._bars += h - g
        if self._bars >= FLUSH_BARS:
            self.flush()

    def held(self, g: int, h: int, scale: float, base: float) -> None:
        self._held.append((g, h, scale, base))
        self._bars += h - g
        if self._bars >= FLUSH_BARS:
            self.flush()

    def flush(self) -> None:
        """Write every pending stretch's values (and, held, ``exposed``) to the curve."""
        if self._flat:
            g, h, value = (np.array(c) for c in zip(*self._flat, strict=True))
            lo, hi = int(g[0]), int(h[-1])
            np.copyto(self._equity[lo:hi], np.repeat(value.astype(np.float64), _cover(g, h)),
                      where=_inside(g, h))  # fmt: skip
            self._flat.clear()
        if self._held:
            assert self._close is not None
            g, h, scale, base = (np.array(c) for c in zip(*self._held, strict=True))
            lo, hi, cover = int(g[0]), int(h[-1]), _cover(g, h)
            values = np.repeat(scale.astype(np.float64), cover) * self._close[lo:hi]
            values += np.repeat(base.astype(np.float64), cover)
            inside = _inside(g, h)
            np.copyto(self._equity[lo:hi], values, where=inside)
            self._exposed[lo:hi] |= inside
            self._held.clear()
        self._bars = 0


# The stretches of a batch are in group order and disjoint: ``g[0]..h[-1]-1`` is their
# span, and each stretch's factors are repeated over it up to the next one (the groups
# in between, stepped, are masked out): contiguous arrays, no scattered writes.
def _cover(g: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per stretch: its groups and those up to the next stretch (the last: its own)."""
    cover = np.empty(len(g), np.int64)
    cover[:-1] = g[1:] - g[:-1]
    cover[-1] = h[-1] - g[-1]
    return cover


def _inside(g: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Over the span ``g[0]..h[-1]-1``: True on the stretches' groups."""
    lo = g[0]
    edges = np.zeros(int(h[-1] - lo) + 1, np.int32)
    edges[g - lo] += 1  # (starts are distinct, and so are ends)
    edges[h - lo] -= 1
    inside: np.ndarray = np.cumsum(edges[:-1]) > 0
    return inside


_FLOATS: dict[int, tuple[Decimal, float]] = {}


def as_float(value: Decimal) -> float:
    """``float(value)``, memoised by identity (Decimal to float goes through a string).

    Books change by replacing their Decimals, so an unchanged cash or quantity is the
    same object and its float is looked up, not converted again. The entry keeps the
    Decimal alive, so its id cannot be reused while it is cached.
    """
    hit = _FLOATS.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    if len(_FLOATS) > 4096:
        _FLOATS.clear()
    out = float(value)
    _FLOATS[id(value)] = (value, out)
    return out


def position_value(market: MarketType, pos: Position, price: Any) -> Any:
    """A position's contribution to the value at ``price`` (a float or an array of them).

    Spot: its market value; futures: its unrealized PnL (the margin is in the wallet).
    """
    if market is _SPOT:
        return as_float(pos.quantity) * price
    return (price - as_float(pos.entry_price)) * (as_float(pos.quantity) * pos.side.sign)


def only_stops(slot: Any) -> bool:
    """True when the OMS's open orders and the venue's resting ones are the same
    protective stops of open positions, and no fill is awaited."""
    oms, venue = slot.engine.d.oms, slot.venue
    if oms.idle():  # nothing tracked: none open, none awaiting fills
        return not venue.has_open_orders()
    # the lists, empty exactly when ``has_open_orders`` says False (one read each)
    mine = oms.open_orders()
    resting = venue.resting_orders()
    if not mine and not resting:
        return not any(oms.awaiting_fills(s) for s in slot.engine.d.positions.positions)
    book = slot.engine.d.positions.positions
    if len(mine) == 1 and len(resting) == 1:  # one stop (the usual case): no two sets
        if mine[0].client_order_id != resting[0].client_order_id:
            return False
    elif {o.client_order_id for o in mine} != {o.client_order_id for o in resting}:
        return False
    for o in resting:
        pos = book.get(o.symbol)
        if (
            pos is None
            or not o.reduce_only
            or o.order_type not in _STOP_TYPES
            or o.stop_price is None
            or o.side is not _EXIT_SIDE[pos.side]  # ``pos.side.exit_side``
            or oms.awaiting_fills(o.symbol)
        ):
            return False
    return True


def coarse_extremes(low: np.ndarray, high: np.ndarray) -> tuple[list[float], list[float]] | None:
    """Per block of ``COARSE`` bars, the lowest low and the highest high, as Python lists
    (None unless both columns are float64: ``first_touch`` compares in their dtype).

    A block holding a nan has ``-inf`` and ``inf``: no range over it is clear by them.
    """
    if low.dtype != np.float64 or high.dtype != np.float64 or len(low) == 0:
        return None
    starts = np.arange(0, len(low), COARSE)
    lows, highs = np.minimum.reduceat(low, starts), np.maximum.reduceat(high, starts)
    lows[np.isnan(lows)] = -math.inf
    highs[np.isnan(highs)] = math.inf
    return lows.tolist(), highs.tolist()


def coarse_clear(
    coarse: tuple[list[float], list[float]], lo: int, hi: int, floor: float, ceiling: float
) -> bool:
    """True when no bar ``lo..hi-1`` (``lo < hi``) has a low at or below ``floor`` or a
    high at or above ``ceiling``, shown by the blocks that hold them (a superset, so
    False only says: look at the bars)."""
    a, b = lo // COARSE, (hi - 1) // COARSE + 1
    lows, highs = coarse
    if b - a == 1:  # one block (most stretches): no slice
        return lows[a] > floor and highs[a] < ceiling
    return min(lows[a:b]) > floor and max(highs[a:b]) < ceiling


_UP, _DOWN = 1 + MARGIN, 1 - MARGIN  # the factors ``first_touch`` widens the levels by


def _levels_clear(
    driver: Driver, w: int, lo: int, hi: int, below: list[float], above: list[float]
) -> bool:
    """True when the coarse extremes of symbol ``w``'s bars ``lo..hi-1`` (``lo < hi``)
    show that none reaches ``first_touch``'s levels (the very floats it compares with)."""
    coarse = driver._coarse.get(w, _NOT_MADE)
    if coarse is _NOT_MADE:
        arrays = driver._arrays[w]
        coarse = driver._coarse[w] = coarse_extremes(arrays.low, arrays.high)
    if coarse is None:
        return False
    # ``max``/``min`` of one level is that level (the usual case: the stop alone)
    floor, ceiling = -math.inf, math.inf
    if below:
        floor = (below[0] if len(below) == 1 else max(below)) * _UP
    if above:
        ceiling = (above[0] if len(above) == 1 else min(above)) * _DOWN
    a = lo // COARSE
    if (hi - 1) // COARSE == a:  # ``coarse_clear``'s one-block case, inline
        lows: list[float] = coarse[0]
        highs: list[float] = coarse[1]
        return lows[a] > floor and highs[a] < ceiling
    return coarse_clear(coarse, lo, hi, floor, ceiling)


_NOT_MADE: Any = object()  # no ``coarse_extremes`` asked for yet


def levels_clear_until(driver: Driver, slot: Any, w: int, pos: Position, g: int, h: int) -> int:
    """The first group in ``g..h`` with a bar that could reach one of ``pos``'s levels.

    The usual answer (none: the levels are far from the stretch's prices) comes from
    the run's coarse extremes (``coarse_clear``), the same comparisons ``first_touch``
    makes with the same levels; else ``first_touch`` reads the bars."""
    index = driver._index
    assert index is not None
    lo, hi = (g, h) if index.identity else index.bars(w, g, h)
    long = pos.side is _LONG
    venue = slot.venue
    resting = venue.resting_orders()
    if not resting and slot.engine.market is not _FUTURES and lo < hi:
        # the stop and take-profit alone: first by their magnitudes, without converting
        # them (a Decimal's float goes through a string); clear by these bounds is clear
        bounds = _magnitudes(pos.stop_price, pos.take_profit, long)
        if bounds is not None and _levels_clear(driver, w, lo, hi, *bounds):
            return h
    below: list[float] = []  # levels a falling low reaches
    above: list[float] = []  # levels a rising high reaches
    (below if long else above).append(as_float(pos.stop_price))
    if pos.take_profit is not None:
        (above if long else below).append(as_float(pos.take_profit))
    for o in resting:  # (none: an empty list)
        if o.symbol == pos.symbol and o.stop_price is not None:
            # ``as_float``: the same float, converted once per order (not per stretch)
            (below if o.side is _SELL else above).append(as_float(o.stop_price))
    if slot.engine.market is _FUTURES:
        liquidation = venue.liquidation_at(pos.symbol)
        if liquidation is not None:
            (below if long else above).append(float(liquidation))
        pct = Decimal(str(slot.engine.d.config.futures_trailing_activation_pct))
        activation = pos.entry_price * (1 + pos.side.sign * pct / 100)
        (above if long else below).append(float(activation))
    if lo >= hi or _levels_clear(driver, w, lo, hi, below, above):
        return h  # (no bars: ``first_touch`` says none either)
    arrays = driver._arrays[w]
    first = first_touch(arrays.low[lo:hi], arrays.high[lo:hi], below, above, MARGIN)
    if first >= hi - lo:
        return h
    return min(h, index.group(w, lo + first))


_ZERO = Decimal(0)


def _magnitudes(
    stop: Decimal, target: Decimal | None, long: bool
) -> tuple[list[float], list[float]] | None:
    """Levels for ``_levels_clear`` at or beyond the stop's and the take-profit's floats
    (away from the prices), from their decimal exponents: ``10**a <= |d| < 10**(a+1)``
    for ``a = d.adjusted()``, so ``float(d) < 10.0**(a + 2)`` and, for ``d > 0``,
    ``float(d) > 10.0**(a - 1)`` (a factor 10 of room for the float powers). A floor
    (the levels below: a long's stop, a short's take-profit) is bounded from above, a
    ceiling from below (positive levels only). None where a level is not finite or a
    bound cannot be shown."""
    first, second = (stop, target) if long else (target, stop)  # below, above
    below: list[float] = []
    above: list[float] = []
    if first is not None:
        if not first.is_finite() or not -300 < (a := first.adjusted()) < 300:
            return None
        below.append(10.0 ** (a + 2))
    if second is not None:
        if not (second.is_finite() and second > _ZERO) or not -300 < (a := second.adjusted()) < 300:
            return None
        above.append(10.0 ** (a - 1))
    return below, above


def close_extremes(
    driver: Driver, w: int, close: np.ndarray, g: int, h: int
) -> tuple[float, float]:
    """The lowest and highest of ``close[g:h]`` (float64; nan if one is nan).

    Two numpy reductions cost ~1 us each whatever the length; most stretches are a few
    dozen bars, whose Python floats ``min`` and ``max`` compare quicker. Those skip a
    nan the reductions propagate, so they are used only on a column without one.
    """
    if h - g <= SHORT_STRETCH:
        finite = driver._nan_free.get(w)
        if finite is None:
            finite = driver._nan_free[w] = not bool(np.isnan(close).any())
        if finite:
            part = close[g:h].tolist()
            return min(part), max(part)
    part_ = close[g:h]
    return _MIN(part_).item(), _MAX(part_).item()


SHORT_STRETCH = 80  # up to this many groups ``close_extremes`` compares Python floats


def block_bounds(
    driver: Driver, w: int, close: np.ndarray, g: int, h: int
) -> tuple[float, float] | None:
    """A close at or below, and one at or above, every ``close[g:h]``: the extremes of
    the ``COARSE``-bar blocks holding them (lists made once per symbol); None unless
    the column is float64 (a block with a nan gives ``-inf`` and ``inf``)."""
    blocks = driver._close_blocks.get(w, _NOT_MADE)
    if blocks is _NOT_MADE:
        blocks = driver._close_blocks[w] = coarse_extremes(close, close)
    if blocks is None:
        return None
    a, b = g // COARSE, (h - 1) // COARSE
    lows: list[float] = blocks[0]
    highs: list[float] = blocks[1]
    if a == b:
        return lows[a], highs[a]
    return min(lows[a : b + 1]), max(highs[a : b + 1])


def exact_extremes(driver: Driver, stretch: Stretch) -> tuple[float, float]:
    """A stretch's ``low`` and ``high``, made the values' extremes if they were bounds
    (``Stretch.bounded``): the values at the stretch's extreme closes."""
    w = stretch.bounded
    if w >= 0:
        scale, base = stretch.scale, stretch.base
        lo_c, hi_c = close_extremes(driver, w, driver._arrays[w].close, stretch.g, stretch.h)
        stretch.low, stretch.high = scale * lo_c + base, scale * hi_c + base
        stretch.bounded = -1
    return stretch.low, stretch.high


def stretch_values(
    driver: Driver, g: int, h: int, held: list[tuple[Any, int, Position]]
) -> Stretch:
    """The portfolio value after each group ``g..h-1``, as ``_mark`` computes it.

    Vectorised over the stretch with the very float operations ``_mark`` performs on
    one group, in the same order (cash, then each position at its symbol's latest
    close), so the values are bit-identical to stepping. One spot position of a
    one-engine, one-symbol run: ``(0.0 + cash) + qty * close``, added the other way
    round (one IEEE addition is commutative), with no zero-filled array first; with a
    positive quantity only its extremes and last value are computed here (from the
    extreme closes, ``close_extremes``), the values themselves by ``CurveFill``.
    """
    if not held:
        value = driver._marked(None)[0]
        return Stretch(g, h, value, value, value, False, None)
    index = driver._index
    assert index is not None
    slots = driver.world.slots
    if len(slots) == 1 and len(held) == 1 and index.identity:
        pm = slots[0].engine.d.positions
        if pm.market is _SPOT and len(pm.positions) == 1:
            _, w, pos = held[0]
            close = driver._arrays[w].close
            if close.dtype == np.float64:  # else the general case's casts
                scale, base = as_float(pos.quantity), 0.0 + as_float(pm.cash)
                if scale > 0:
                    # ``scale * c + base`` does not decrease as ``c`` grows (each rounding
                    # is monotonic): the extremes are those at the extreme closes, the
                    # values left to the driver's ``CurveFill``. First bounded by the
                    # extreme closes of the blocks holding the stretch (a lower low and
                    # a higher high: enough for the risk check and the peak, usually)
                    last = scale * close.item(h - 1) + base
                    bounds = block_bounds(driver, w, close, g, h)
                    if bounds is not None:
                        low, high = scale * bounds[0] + base, scale * bounds[1] + base
                        return Stretch(g, h, low, high, last, True, None, scale, base, w)
                    lo_c, hi_c = close_extremes(driver, w, close, g, h)
                    low = scale * lo_c + base
                    high = scale * hi_c + base
                    return Stretch(g, h, low, high, last, True, None, scale, base)
                out = scale * close[g:h]
                out += base
                last = out.item(h - g - 1)  # the Python float, without a numpy scalar
                return Stretch(g, h, _MIN(out).item(), _MAX(out).item(), last, True, out)
    symbols = {symbol: w for w, symbol in enumerate(driver.series)}
    closes: dict[int, np.ndarray] = {}
    out = np.zeros(h - g, np.float64)
    for slot in slots:
        pm = slot.engine.d.positions
        out += as_float(pm.cash)
        for symbol, pos in pm.positions.items():
            w = symbols[symbol]
            if w not in closes:
                closes[w] = index.latest(w, driver._arrays[w].close, g, h)
            out += position_value(pm.market, pos, closes[w])
    return Stretch(g, h, float(_MIN(out)), float(_MAX(out)), float(out[-1]), True, out)

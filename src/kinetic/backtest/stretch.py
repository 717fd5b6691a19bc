"""What the driver reads from the engines before it skips a stretch of groups.

Moved out of ``driver`` (its module was at the size limit), each as a plain function the
``Driver`` class binds as its method: whether an engine's only orders are its positions'
protective stops (``only_stops``), the first group that could reach a position's price
levels (``levels_clear_until``), and the portfolio value after each group of the
stretch (``stretch_values``), computed with the very float operations ``Driver._mark``
performs on one group.
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
_STOP_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
_MIN, _MAX = np.minimum.reduce, np.maximum.reduce  # ``a.min()`` without its wrapper
COARSE = 64  # bars per block of ``coarse_extremes``


@dataclass(slots=True)
class Stretch:
    """Groups ``g..h-1`` to skip: their values (None: all equal ``low``) and extremes."""

    g: int
    h: int
    low: float
    high: float
    last: float
    held: bool
    values: np.ndarray | None


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
    if market is MarketType.SPOT:
        return as_float(pos.quantity) * price
    return (price - as_float(pos.entry_price)) * (as_float(pos.quantity) * pos.side.sign)


def only_stops(slot: Any) -> bool:
    """True when the OMS's open orders and the venue's resting ones are the same
    protective stops of open positions, and no fill is awaited."""
    oms, venue = slot.engine.d.oms, slot.venue
    if oms.idle():  # nothing tracked: none open, none awaiting fills
        return not venue.has_open_orders()
    if not oms.has_open_orders() and not venue.has_open_orders():
        return not any(oms.awaiting_fills(s) for s in slot.engine.d.positions.positions)
    book = slot.engine.d.positions.positions
    ours = {o.client_order_id for o in oms.open_orders()}
    resting = venue.resting_orders()
    if ours != {o.client_order_id for o in resting}:
        return False
    for o in resting:
        pos = book.get(o.symbol)
        if (
            pos is None
            or not o.reduce_only
            or o.order_type not in _STOP_TYPES
            or o.stop_price is None
            or o.side is not pos.side.exit_side
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


def _levels_clear(
    driver: Driver, w: int, lo: int, hi: int, below: list[float], above: list[float]
) -> bool:
    """True when the coarse extremes of symbol ``w``'s bars ``lo..hi-1`` (``lo < hi``)
    show that none reaches ``first_touch``'s levels (the very floats it compares with)."""
    if w not in driver._coarse:
        arrays = driver._arrays[w]
        driver._coarse[w] = coarse_extremes(arrays.low, arrays.high)
    coarse = driver._coarse[w]
    if coarse is None:
        return False
    floor = max(below) * (1 + MARGIN) if below else -math.inf
    ceiling = min(above) * (1 - MARGIN) if above else math.inf
    return coarse_clear(coarse, lo, hi, floor, ceiling)


def levels_clear_until(driver: Driver, slot: Any, w: int, pos: Position, g: int, h: int) -> int:
    """The first group in ``g..h`` with a bar that could reach one of ``pos``'s levels.

    The usual answer (none: the levels are far from the stretch's prices) comes from
    the run's coarse extremes (``coarse_clear``), the same comparisons ``first_touch``
    makes with the same levels; else ``first_touch`` reads the bars."""
    index = driver._index
    assert index is not None
    lo, hi = index.bars(w, g, h)
    arrays = driver._arrays[w]
    long = pos.side is PositionSide.LONG
    below: list[float] = []  # levels a falling low reaches
    above: list[float] = []  # levels a rising high reaches
    (below if long else above).append(as_float(pos.stop_price))
    if pos.take_profit is not None:
        (above if long else below).append(as_float(pos.take_profit))
    venue = slot.venue
    if venue.has_open_orders():
        for o in venue.resting_orders():
            if o.symbol == pos.symbol and o.stop_price is not None:
                (below if o.side is Side.SELL else above).append(float(o.stop_price))
    if slot.engine.market is MarketType.FUTURES:
        liquidation = venue.liquidation_at(pos.symbol)
        if liquidation is not None:
            (below if long else above).append(float(liquidation))
        pct = Decimal(str(slot.engine.d.config.futures_trailing_activation_pct))
        activation = pos.entry_price * (1 + pos.side.sign * pct / 100)
        (above if long else below).append(float(activation))
    if lo >= hi or _levels_clear(driver, w, lo, hi, below, above):
        return h  # (no bars: ``first_touch`` says none either)
    first = first_touch(arrays.low[lo:hi], arrays.high[lo:hi], below, above, MARGIN)
    if first >= hi - lo:
        return h
    return min(h, index.group(w, lo + first))


def stretch_values(
    driver: Driver, g: int, h: int, held: list[tuple[Any, int, Position]]
) -> Stretch:
    """The portfolio value after each group ``g..h-1``, as ``_mark`` computes it.

    Vectorised over the stretch with the very float operations ``_mark`` performs on
    one group, in the same order (cash, then each position at its symbol's latest
    close), so the values are bit-identical to stepping. One spot position of a
    one-engine, one-symbol run: ``(0.0 + cash) + qty * close``, added the other way
    round (one IEEE addition is commutative), with no zero-filled array first.
    """
    if not held:
        value = driver._mark()[0]
        return Stretch(g, h, value, value, value, False, None)
    index = driver._index
    assert index is not None
    slots = driver.world.slots
    if len(slots) == 1 and len(held) == 1 and index.identity:
        pm = slots[0].engine.d.positions
        if pm.market is MarketType.SPOT and len(pm.positions) == 1:
            _, w, pos = held[0]
            close = driver._arrays[w].close
            if close.dtype == np.float64:  # else the general case's casts
                out = as_float(pos.quantity) * close[g:h]
                out += 0.0 + as_float(pm.cash)
                return Stretch(g, h, float(_MIN(out)), float(_MAX(out)), float(out[-1]), True, out)
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

"""A symbol's candle columns, read bar by bar as Python values when a backtest steps."""

from __future__ import annotations

from typing import Any

from kinetic.domain import Candle, check_twin
from kinetic.marketdata.files import CandleArrays

BLOCK = 4096  # bars converted to Python lists at a time
# reads (candles and opening ticks) served item by item in a block before it is converted:
# a block's conversion costs about as much as 1,500 single reads, and a backtest that
# skips reads a block's bars sparsely (sma_cross: about 200 reads per block)
SPARSE = 1024

_FIELDS = ("symbol", "open_time_ms", "close_time_ms", "open", "high", "low", "close", "volume")


class _Blank:
    """``Candle``'s very layout (its slots, in order) without the frozen ``__setattr__``.

    A stepped bar builds two Candles. ``Candle(...)`` sets its eight slots through
    ``object.__setattr__`` (about 1.3 us), and setting them through the slot
    descriptors costs nearly as much; here they are plain slot stores on a ``_Blank``
    whose class is then switched to ``Candle`` (about 0.15 us): the object
    ``Candle(...)`` would build, since ``Candle`` has no ``__post_init__`` and the
    layouts are the same (CPython refuses the switch otherwise).
    """

    __slots__ = _FIELDS
    symbol: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


check_twin(_Blank, Candle)
if hasattr(Candle, "__post_init__"):  # it would not run on a switched twin
    raise TypeError("Candle has __post_init__: bars.py builds Candles without it")


def new_candle(
    symbol: str, open_ms: int, close_ms: int, o: float, h: float, lo: float, c: float, v: float
) -> Candle:
    """``Candle(symbol, open_ms, close_ms, o, h, lo, c, v)``, built slot by slot."""
    candle = _Blank()
    candle.symbol = symbol
    candle.open_time_ms = open_ms
    candle.close_time_ms = close_ms
    candle.open = o
    candle.high = h
    candle.low = lo
    candle.close = c
    candle.volume = v
    candle.__class__ = Candle  # type: ignore[assignment]
    return candle  # type: ignore[return-value]


class Bars:
    """One symbol's columns; a stepped bar's values come from Python lists.

    The lists hold one block of ``BLOCK`` bars, converted with ``tolist`` when a bar
    outside it is asked for: the same Python ints and floats ``.item(i)`` gives, for a
    fraction of its cost per field, without the memory of whole-run lists (six columns
    of 500k bars would be about 100 MB of Python objects). A block is converted only
    once it was asked ``SPARSE`` times: before that, a bar's values are read with
    ``.item(i)`` (a skipping backtest steps a few bars of each block).
    """

    __slots__ = ("_asked", "_block", "_cols", "_hi", "_lo", "_next", "interval_ms", "symbol")

    def __init__(self, a: CandleArrays) -> None:
        self.symbol = a.symbol
        self.interval_ms = a.interval_ms
        self._cols = (a.open_time_ms, a.open, a.high, a.low, a.close, a.volume)
        self._lo = self._hi = 0  # the converted block (none yet)
        self._block: tuple[list[Any], ...] = ()
        self._next = 0  # the end of the block being asked item by item
        self._asked = 0  # reads in it so far

    def _load(self, i: int) -> bool:
        """Convert the block of bar ``i`` if it was asked often enough; False: read
        bar ``i`` item by item (counted)."""
        if i >= self._next or i < self._next - BLOCK:  # another block: count afresh
            self._next, self._asked = i - i % BLOCK + BLOCK, 0
        self._asked += 1
        if self._asked < SPARSE:
            return False
        lo = self._next - BLOCK
        self._block = tuple([c[lo : self._next].tolist() for c in self._cols])
        self._lo, self._hi = lo, lo + len(self._block[0])
        return True

    def candle(self, i: int) -> Candle:
        if self._lo <= i < self._hi:
            sparse = False
        else:  # ``_load``'s count, inline while the block stays sparse (the usual read)
            end = self._next
            if end - BLOCK <= i < end and self._asked < SPARSE - 1:
                self._asked += 1
                sparse = True
            else:
                sparse = not self._load(i)
        if not sparse:  # from the block's lists
            k = i - self._lo
            t, o, h, lo, c, v = self._block
            start, op, hi, low, close, vol = t[k], o[k], h[k], lo[k], c[k], v[k]
        else:  # a sparse read: single items of the columns
            ts, opens, highs, lows, closes, vols = self._cols
            start, op, hi, low = ts.item(i), opens.item(i), highs.item(i), lows.item(i)
            close, vol = closes.item(i), vols.item(i)
        candle = _Blank()  # ``new_candle``, inline: once per stepped bar
        candle.symbol = self.symbol
        candle.open_time_ms = start
        candle.close_time_ms = start + self.interval_ms - 1
        candle.open = op
        candle.high = hi
        candle.low = low
        candle.close = close
        candle.volume = vol
        candle.__class__ = Candle  # type: ignore[assignment]
        return candle  # type: ignore[return-value]

    def opening_tick(self, i: int) -> Candle:
        """A zero-range bar at bar ``i``'s open: what the venue knows when it opens."""
        if self._lo <= i < self._hi:
            sparse = False
        else:  # ``_load``'s count, inline (as in ``candle``)
            end = self._next
            if end - BLOCK <= i < end and self._asked < SPARSE - 1:
                self._asked += 1
                sparse = True
            else:
                sparse = not self._load(i)
        if not sparse:
            k = i - self._lo
            t, p = self._block[0][k], self._block[1][k]
        else:
            t, p = self._cols[0].item(i), self._cols[1].item(i)
        candle = _Blank()  # ``new_candle``, inline: once per stepped bar
        candle.symbol = self.symbol
        candle.open_time_ms = candle.close_time_ms = t
        candle.open = candle.high = candle.low = candle.close = p
        candle.volume = 0.0
        candle.__class__ = Candle  # type: ignore[assignment]
        return candle  # type: ignore[return-value]

    def candles(self, lo: int, hi: int) -> list[Candle]:
        """``[self.candle(i) for i in range(lo, hi)]``, built in one loop."""
        a, symbol, span = self._cols, self.symbol, self.interval_ms - 1
        out: list[Candle] = []
        append = out.append
        for t, o, h, lw, c, v in zip(*(col[lo:hi].tolist() for col in a), strict=False):
            candle = _Blank()
            candle.symbol = symbol
            candle.open_time_ms = t
            candle.close_time_ms = t + span
            candle.open = o
            candle.high = h
            candle.low = lw
            candle.close = c
            candle.volume = v
            candle.__class__ = Candle  # type: ignore[assignment]
            append(candle)  # type: ignore[arg-type]
        return out

    def opening_ticks(self, lo: int, hi: int) -> list[Candle]:
        """``[self.opening_tick(i) for i in range(lo, hi)]``, built in one loop."""
        symbol = self.symbol
        out: list[Candle] = []
        append = out.append
        times, opens = self._cols[0][lo:hi].tolist(), self._cols[1][lo:hi].tolist()
        for t, p in zip(times, opens, strict=False):
            candle = _Blank()
            candle.symbol = symbol
            candle.open_time_ms = candle.close_time_ms = t
            candle.open = candle.high = candle.low = candle.close = p
            candle.volume = 0.0
            candle.__class__ = Candle  # type: ignore[assignment]
            append(candle)  # type: ignore[arg-type]
        return out

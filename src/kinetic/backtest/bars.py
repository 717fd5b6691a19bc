"""A symbol's candle columns, read bar by bar as Python values when a backtest steps."""

from __future__ import annotations

from kinetic.domain import Candle
from kinetic.marketdata.files import CandleArrays

BLOCK = 4096  # bars converted to Python lists at a time


class Bars:
    """One symbol's columns; a stepped bar's values come from Python lists.

    The lists hold one block of ``BLOCK`` bars, converted with ``tolist`` when a bar
    outside it is asked for: the same Python ints and floats ``.item(i)`` gives, for a
    fraction of its cost per field, without the memory of whole-run lists (six columns
    of 500k bars would be about 100 MB of Python objects).
    """

    __slots__ = ("_block", "_cols", "_hi", "_lo", "interval_ms", "symbol")

    def __init__(self, a: CandleArrays) -> None:
        self.symbol = a.symbol
        self.interval_ms = a.interval_ms
        self._cols = (a.open_time_ms, a.open, a.high, a.low, a.close, a.volume)
        self._lo = self._hi = 0
        self._block: tuple[list, ...] = ()

    def _load(self, i: int) -> None:
        lo = i - i % BLOCK
        hi = lo + BLOCK
        self._block = tuple(c[lo:hi].tolist() for c in self._cols)
        self._lo, self._hi = lo, lo + len(self._block[0])

    def candle(self, i: int) -> Candle:
        if not self._lo <= i < self._hi:
            self._load(i)
        k = i - self._lo
        t, o, h, lo, c, v = self._block
        start = t[k]
        return Candle(
            self.symbol, start, start + self.interval_ms - 1, o[k], h[k], lo[k], c[k], v[k]
        )

    def opening_tick(self, i: int) -> Candle:
        """A zero-range bar at bar ``i``'s open: what the venue knows when it opens."""
        if not self._lo <= i < self._hi:
            self._load(i)
        k = i - self._lo
        t, p = self._block[0][k], self._block[1][k]
        return Candle(self.symbol, t, t, p, p, p, p, 0.0)

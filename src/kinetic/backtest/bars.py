"""A symbol's candle columns, read bar by bar as Python values when a backtest steps."""

from __future__ import annotations

from dataclasses import fields

from kinetic.domain import Candle
from kinetic.marketdata.files import CandleArrays

BLOCK = 4096  # bars converted to Python lists at a time

_FIELDS = ("symbol", "open_time_ms", "close_time_ms", "open", "high", "low", "close", "volume")
# ``Candle`` is a frozen slots dataclass without ``__post_init__``: a new instance with
# its slots set is the very object ``Candle(...)`` builds, at half the cost of its
# ``__init__`` (eight ``object.__setattr__`` calls); a stepped bar builds two
assert tuple(f.name for f in fields(Candle)) == _FIELDS
assert not hasattr(Candle, "__post_init__")
_NEW = object.__new__
_SYMBOL, _OPEN_MS, _CLOSE_MS, _OPEN, _HIGH, _LOW, _CLOSE, _VOLUME = (
    getattr(Candle, name).__set__ for name in _FIELDS
)


def new_candle(
    symbol: str, open_ms: int, close_ms: int, o: float, h: float, lo: float, c: float, v: float
) -> Candle:
    """``Candle(symbol, open_ms, close_ms, o, h, lo, c, v)``, built slot by slot."""
    candle = _NEW(Candle)
    _SYMBOL(candle, symbol)
    _OPEN_MS(candle, open_ms)
    _CLOSE_MS(candle, close_ms)
    _OPEN(candle, o)
    _HIGH(candle, h)
    _LOW(candle, lo)
    _CLOSE(candle, c)
    _VOLUME(candle, v)
    return candle


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
        candle = _NEW(Candle)  # ``new_candle``, inline: once per stepped bar
        _SYMBOL(candle, self.symbol)
        _OPEN_MS(candle, start)
        _CLOSE_MS(candle, start + self.interval_ms - 1)
        _OPEN(candle, o[k])
        _HIGH(candle, h[k])
        _LOW(candle, lo[k])
        _CLOSE(candle, c[k])
        _VOLUME(candle, v[k])
        return candle

    def opening_tick(self, i: int) -> Candle:
        """A zero-range bar at bar ``i``'s open: what the venue knows when it opens."""
        if not self._lo <= i < self._hi:
            self._load(i)
        k = i - self._lo
        t, p = self._block[0][k], self._block[1][k]
        return new_candle(self.symbol, t, t, p, p, p, p, 0.0)

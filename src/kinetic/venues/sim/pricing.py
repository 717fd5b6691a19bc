"""Pure pricing helpers: candle bars in Decimal, trigger tests and slippage."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from kinetic.domain import Candle, Side
from kinetic.venues.base.filters import round_price

_BUY = Side.BUY  # a module global: an enum member read from its class takes a slow hook
# the last slippage given to ``slipped`` (a Decimal: immutable) with its two factors
_factors: tuple[Decimal | None, Decimal, Decimal] = (None, Decimal(1), Decimal(1))


def to_decimal(value: float) -> Decimal:
    """Convert a float candle price to the Decimal it was printed as."""
    return Decimal(repr(value))


class LastPrices:
    """The last price per symbol, kept as given and converted to Decimal on first read.

    A candle's close is stored as its float: most closes are replaced by the next one
    before anything reads them, and the conversion (through ``repr``) is the cost.
    """

    __slots__ = ("_raw",)

    def __init__(self) -> None:
        self._raw: dict[str, float | Decimal] = {}

    def set(self, symbol: str, price: float | Decimal) -> None:
        self._raw[symbol] = price

    @overload
    def get(self, symbol: str) -> Decimal | None: ...

    @overload
    def get(self, symbol: str, default: Decimal) -> Decimal: ...

    def get(self, symbol: str, default: Decimal | None = None) -> Decimal | None:
        price = self._raw.get(symbol)
        if price is None:
            return default
        if not isinstance(price, Decimal):
            price = self._raw[symbol] = to_decimal(price)
        return price


@dataclass(frozen=True, slots=True)
class Bar:
    """A candle's OHLC as Decimals, for exact matching."""

    symbol: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    @classmethod
    def from_candle(cls, candle: Candle) -> Bar:
        """Build a bar from a float candle."""
        return cls(
            symbol=candle.symbol,
            open=to_decimal(candle.open),
            high=to_decimal(candle.high),
            low=to_decimal(candle.low),
            close=to_decimal(candle.close),
        )


def slipped(price: Decimal, side: Side, slippage: Decimal, tick: Decimal) -> Decimal:
    """Move ``price`` against the taker by the ``slippage`` fraction, rounded to the tick.

    A buyer pays more and a seller gets less; rounding also goes against the taker.
    """
    global _factors
    if _factors[0] is not slippage:  # ``1 + slippage`` and ``1 - slippage``, once per value
        _factors = (slippage, 1 + slippage, 1 - slippage)
    if side is _BUY:
        return round_price(price * _factors[1], tick, "up")
    return round_price(price * _factors[2], tick, "down")


def limit_crossed(side: Side, price: Decimal, bar: Bar) -> bool:
    """Tell whether a resting limit order at ``price`` trades during ``bar``."""
    return bar.low <= price if side is _BUY else bar.high >= price


def stop_trigger_price(side: Side, stop: Decimal, bar: Bar) -> Decimal | None:
    """Return the pre-slippage fill price of a stop-market order, or None if untouched.

    The fill is at the stop price, or at the open when the bar gapped through the stop.
    """
    if side is _BUY:
        if bar.open >= stop:
            return bar.open
        return stop if bar.high >= stop else None
    if bar.open <= stop:
        return bar.open
    return stop if bar.low <= stop else None

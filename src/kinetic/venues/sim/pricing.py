"""Pure pricing helpers: candle bars in Decimal, trigger tests and slippage."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kinetic.domain import Candle, Side
from kinetic.venues.base.filters import round_price


def to_decimal(value: float) -> Decimal:
    """Convert a float candle price to the Decimal it was printed as."""
    return Decimal(repr(value))


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
    if side is Side.BUY:
        return round_price(price * (1 + slippage), tick, "up")
    return round_price(price * (1 - slippage), tick, "down")


def limit_crossed(side: Side, price: Decimal, bar: Bar) -> bool:
    """Tell whether a resting limit order at ``price`` trades during ``bar``."""
    return bar.low <= price if side is Side.BUY else bar.high >= price


def stop_trigger_price(side: Side, stop: Decimal, bar: Bar) -> Decimal | None:
    """Return the pre-slippage fill price of a stop-market order, or None if untouched.

    The fill is at the stop price, or at the open when the bar gapped through the stop.
    """
    if side is Side.BUY:
        if bar.open >= stop:
            return bar.open
        return stop if bar.high >= stop else None
    if bar.open <= stop:
        return bar.open
    return stop if bar.low <= stop else None

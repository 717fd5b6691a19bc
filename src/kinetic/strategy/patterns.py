"""Candlestick patterns and support/resistance from confirmed swing levels.

Definitions (``body = |close - open|``, ``range = high - low``):

* bullish engulfing: previous candle down, this one up, and this body covers the
  previous body (``open <= prev.close`` and ``close >= prev.open``, bodies not equal);
  bearish engulfing mirrored.
* hammer: lower wick >= 2 x body, upper wick <= body (or <= 10 % of the range), body > 0
  or range > 0; shooting star mirrored (long upper wick).
* doji: body <= 10 % of the range.
* support/resistance: the nearest confirmed swing low below (high above) the close
  among the last ``keep`` swings; "near" means within ``tolerance`` (in price units,
  the strategies pass ``0.5 x ATR``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kinetic.domain import Candle
from kinetic.strategy.structure import SwingDetector

DOJI_BODY_SHARE = 0.1


def _body(c: Candle) -> float:
    return abs(c.close - c.open)


def bullish_engulfing(prev: Candle, cur: Candle) -> bool:
    """Return True when ``cur`` is an up candle whose body engulfs the down candle ``prev``."""
    return (
        prev.close < prev.open and cur.close > cur.open
        and cur.open <= prev.close and cur.close >= prev.open
        and _body(cur) > _body(prev)
    )  # fmt: skip


def bearish_engulfing(prev: Candle, cur: Candle) -> bool:
    """Return True when ``cur`` is a down candle whose body engulfs the up candle ``prev``."""
    return (
        prev.close > prev.open and cur.close < cur.open
        and cur.open >= prev.close and cur.close <= prev.open
        and _body(cur) > _body(prev)
    )  # fmt: skip


def hammer(c: Candle) -> bool:
    """Return True for a small body on top of a lower wick at least twice its size."""
    rng = c.high - c.low
    body = _body(c)
    lower = min(c.open, c.close) - c.low
    upper = c.high - max(c.open, c.close)
    return rng > 0 and lower >= 2.0 * max(body, 0.05 * rng) and upper <= max(body, 0.1 * rng)


def shooting_star(c: Candle) -> bool:
    """Return True for a small body under an upper wick at least twice its size."""
    rng = c.high - c.low
    body = _body(c)
    lower = min(c.open, c.close) - c.low
    upper = c.high - max(c.open, c.close)
    return rng > 0 and upper >= 2.0 * max(body, 0.05 * rng) and lower <= max(body, 0.1 * rng)


def doji(c: Candle) -> bool:
    """Return True when the body is at most 10 % of a non-zero range."""
    rng = c.high - c.low
    return rng > 0 and _body(c) <= DOJI_BODY_SHARE * rng


@dataclass(frozen=True, slots=True)
class Levels:
    """Nearest support below and resistance above a price (None when there is none)."""

    support: float | None
    resistance: float | None


class SwingLevels:
    """Support/resistance levels from the last ``keep`` confirmed swings (no look-ahead)."""

    __slots__ = ("_highs", "_lows", "_swings")

    def __init__(self, swing_n: int = 3, keep: int = 10) -> None:
        self._swings = SwingDetector(swing_n)
        self._highs: deque[float] = deque(maxlen=keep)
        self._lows: deque[float] = deque(maxlen=keep)

    def update(self, high: float, low: float) -> None:
        """Feed one bar; record swings it confirms."""
        for s in self._swings.update(high, low):
            (self._highs if s.high else self._lows).append(s.price)

    def around(self, price: float) -> Levels:
        """Return the nearest swing low at or below and swing high at or above ``price``."""
        below = [p for p in self._lows if p <= price]
        above = [p for p in self._highs if p >= price]
        return Levels(max(below) if below else None, min(above) if above else None)

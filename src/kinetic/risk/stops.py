"""Protective price levels: fixed-percent and ATR stops, take-profit, trailing stop.

All prices are ``Decimal``; percentages and ATR may be floats (converted exactly via
``str``). Functions are pure: ``update_trailing`` returns the new levels, the caller
stores them on its ``Position``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from kinetic.domain import HUNDRED, ZERO, Position, PositionSide, as_decimal

Number = Decimal | float | int


_dec = as_decimal


def _check_pct(pct: Number, name: str = "pct") -> Decimal:
    value = _dec(pct)
    if not ZERO <= value < HUNDRED:
        raise ValueError(f"{name} must be within [0, 100), got {pct}")
    return value


def fixed_pct_stop(entry: Decimal, side: PositionSide, pct: Number) -> Decimal:
    """Return the stop ``pct`` percent adverse to ``entry`` for ``side``."""
    if type(pct) is float or type(pct) is int:  # a config value: its factor is remembered
        return entry * _stop_factor(side, pct)
    return entry * (1 - side.sign * _check_pct(pct) / HUNDRED)


def take_profit(entry: Decimal, side: PositionSide, pct: Number) -> Decimal:
    """Return the take-profit ``pct`` percent favourable to ``entry`` for ``side``."""
    if type(pct) is float or type(pct) is int:  # a config value: its factor is remembered
        return entry * _target_factor(side, pct)
    return entry * _target_factor_of(side, pct)


def level_factors(side: PositionSide, stop_pct: Number, target_pct: Number) -> tuple[Any, Any]:
    """The factors ``fixed_pct_stop`` and ``take_profit`` multiply ``entry`` by for these
    config percentages: ``entry * factor`` is their result (value and exponent). None for
    a percentage that is not a float or int, or that they refuse (their call raises then):
    a caller that holds them calls the function for a None.
    """
    return _factor(_stop_factor, side, stop_pct), _factor(_target_factor, side, target_pct)


def _factor(of: Any, side: PositionSide, pct: Number) -> Decimal | None:
    if type(pct) is not float and type(pct) is not int:
        return None
    try:
        factor: Decimal = of(side, pct)
    except ValueError:
        return None
    return factor


# The factors of config percentages, computed once per (side, value, type): the same
# Decimal operations in the same (default) context give the same Decimal, so ``entry x
# factor`` is what the full expression gives. Typed: 100 and 100.0 give factors of
# different exponents. Decimals are not cached (equal ones may differ in exponent). A
# refused value raises on every call (an exception is never cached).
@lru_cache(maxsize=256, typed=True)
def _stop_factor(side: PositionSide, pct: float | int) -> Decimal:
    return 1 - side.sign * _check_pct(pct) / HUNDRED


@lru_cache(maxsize=256, typed=True)
def _target_factor(side: PositionSide, pct: float | int) -> Decimal:
    return _target_factor_of(side, pct)


def _target_factor_of(side: PositionSide, pct: Number) -> Decimal:
    value = _dec(pct)
    if value < 0:
        raise ValueError(f"pct must be >= 0, got {pct}")
    return 1 + side.sign * value / HUNDRED


def atr_stop(entry: Decimal, side: PositionSide, atr: Number, multiplier: Number) -> Decimal:
    """Return ``entry -/+ atr * multiplier`` (never below zero for a long)."""
    distance = _dec(atr) * _dec(multiplier)
    if distance < 0:
        raise ValueError(f"atr * multiplier must be >= 0, got {distance}")
    return max(ZERO, entry - side.sign * distance)


@dataclass(frozen=True, slots=True)
class TrailingUpdate:
    """New protective levels after one price observation."""

    best_price: Decimal
    stop_price: Decimal
    trailing_active: bool
    changed: bool  # stop_price or activation differs from the position's

    def apply(self, position: Position) -> None:
        """Store the levels on ``position``."""
        position.best_price = self.best_price
        position.stop_price = self.stop_price
        position.trailing_active = self.trailing_active


def _better(side: PositionSide, a: Decimal, b: Decimal) -> Decimal:
    """Return the more favourable of two prices for ``side``."""
    return max(a, b) if side is PositionSide.LONG else min(a, b)


def update_trailing(
    position: Position, price: Number, activation_pct: Number, distance_pct: Number
) -> TrailingUpdate:
    """Advance the trailing stop with ``price``.

    The trail activates once the best price is ``activation_pct`` percent in profit; it
    then sits ``distance_pct`` percent behind the best price and never loosens.
    """
    px = _dec(price)
    side = position.side
    best = position.best_price if position.best_price > 0 else position.entry_price
    best = _better(side, best, px)
    profit_pct = (best - position.entry_price) * side.sign / position.entry_price * HUNDRED
    active = position.trailing_active or profit_pct >= _dec(activation_pct)
    stop = position.stop_price
    if active:
        trail = best * (1 - side.sign * _check_pct(distance_pct, "distance_pct") / HUNDRED)
        # never loosen: a long's stop only rises, a short's only falls
        stop = _better(side, stop, trail)
    changed = stop != position.stop_price or active != position.trailing_active
    return TrailingUpdate(best, stop, active, changed)


def stop_hit(position: Position, high: Number, low: Number) -> bool:
    """Return True if the bar ``high``/``low`` touched the position's stop."""
    if position.side is PositionSide.LONG:
        return _dec(low) <= position.stop_price
    return _dec(high) >= position.stop_price


def take_profit_hit(position: Position, high: Number, low: Number) -> bool:
    """Return True if the bar touched the position's take-profit (False when unset)."""
    if position.take_profit is None:
        return False
    if position.side is PositionSide.LONG:
        return _dec(high) >= position.take_profit
    return _dec(low) <= position.take_profit

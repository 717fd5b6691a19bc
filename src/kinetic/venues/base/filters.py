"""Instrument filters: rounding and minimums, in one place for every venue.

Quantities are floored to the step size (never round up into a larger order than
the money allows); prices are rounded to the tick size, by default to the nearest
tick, or in the direction the caller asks (a protective stop rounds away from
the position so it is never tighter than intended).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Literal

from kinetic.domain import Instrument
from kinetic.venues.base.errors import OrderRejected

Rounding = Literal["nearest", "down", "up"]
_MODES = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` that is <= ``value``."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


@lru_cache(maxsize=256)
def _fraction_quantum(step: Decimal) -> Decimal | None:
    """``step`` normalised when it has decimal places (results are quantized to it)."""
    normal = step.normalize()
    exponent = normal.as_tuple().exponent
    return normal if isinstance(exponent, int) and exponent < 0 else None


def round_price(price: Decimal, tick: Decimal, mode: Rounding = "nearest") -> Decimal:
    """Round ``price`` to a multiple of ``tick``; the result has the tick's exponent."""
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(rounding=_MODES[mode])
    quantum = _fraction_quantum(tick)
    return steps * tick if quantum is None else (steps * tick).quantize(quantum)


def round_quantity(qty: Decimal, instrument: Instrument) -> Decimal:
    """Floor ``qty`` to the instrument's step size."""
    out = floor_to_step(qty, instrument.step_size)
    quantum = _fraction_quantum(instrument.step_size)
    return out if quantum is None else out.quantize(quantum)


def check_order(
    instrument: Instrument, qty: Decimal, price: Decimal, *, reduce_only: bool = False
) -> None:
    """Raise ``OrderRejected`` if the order breaks the instrument's filters.

    Reduce-only orders are exempt from the minimum notional, as on the real venues,
    so a small remainder can always be closed.
    """
    if qty <= 0:
        raise OrderRejected(f"{instrument.symbol}: quantity {qty} must be > 0")
    if instrument.step_size > 0 and qty % instrument.step_size != 0:
        raise OrderRejected(
            f"{instrument.symbol}: quantity {qty} is not a multiple of step {instrument.step_size}"
        )
    if qty < instrument.min_qty:
        raise OrderRejected(
            f"{instrument.symbol}: quantity {qty} below min_qty {instrument.min_qty}"
        )
    if qty > instrument.max_qty:
        raise OrderRejected(
            f"{instrument.symbol}: quantity {qty} above max_qty {instrument.max_qty}"
        )
    if not reduce_only and qty * price < instrument.min_notional:
        raise OrderRejected(
            f"{instrument.symbol}: notional {qty * price} below "
            f"min_notional {instrument.min_notional}"
        )

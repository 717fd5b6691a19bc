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


# per step or tick object: its normalised value when it is a power of ten below one
# (0.01), ONE when it is exactly ``Decimal(1)`` (exponent 0: ``Decimal("1.0")`` is not),
# else ZERO (the general path). Rounding to such a step is one ``quantize`` (or
# ``to_integral_value``), with the value and exponent of divide / round / multiply /
# quantize: dividing by a power of ten is exact when the value has at most the context's
# precision in digits (``+x == x``; a longer one is rounded by the division first, so it
# takes the general path). Keyed by identity (equal Decimals may differ in exponent);
# the step is kept alive with its entry so its id is not reused.
_KINDS: dict[int, tuple[Decimal, Decimal]] = {}
_ZERO = Decimal(0)
_ONE = Decimal(1)


def _step_kind(step: Decimal) -> Decimal:
    entry = _KINDS.get(id(step))
    if entry is not None and entry[0] is step:
        return entry[1]
    kind = _ZERO
    if step > 0:
        normal = step.normalize()
        _sign, digits, exponent = normal.as_tuple()
        if digits == (1,) and isinstance(exponent, int) and exponent < 0:
            kind = normal
        elif step.as_tuple()[1:] == ((1,), 0):
            kind = _ONE
    if len(_KINDS) >= 4096:
        _KINDS.clear()
    _KINDS[id(step)] = (step, kind)
    return kind


def round_price(price: Decimal, tick: Decimal, mode: Rounding = "nearest") -> Decimal:
    """Round ``price`` to a multiple of ``tick``; the result has the tick's exponent."""
    entry = _KINDS.get(id(tick))
    quantum = entry[1] if entry is not None and entry[0] is tick else _step_kind(tick)
    if quantum and quantum is not _ONE and +price == price:  # a tick such as 0.01
        return price.quantize(quantum, _MODES[mode])
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(rounding=_MODES[mode])
    fraction = _fraction_quantum(tick)
    return steps * tick if fraction is None else (steps * tick).quantize(fraction)


def round_quantity(qty: Decimal, instrument: Instrument) -> Decimal:
    """Floor ``qty`` to the instrument's step size."""
    step = instrument.step_size
    entry = _KINDS.get(id(step))
    quantum = entry[1] if entry is not None and entry[0] is step else _step_kind(step)
    if quantum and +qty == qty:  # a step of 10**-k, or exactly 1 (as below, see _KINDS)
        if quantum is _ONE:
            return qty.to_integral_value(ROUND_FLOOR)
        return qty.quantize(quantum, ROUND_FLOOR)
    out = floor_to_step(qty, step)
    fraction = _fraction_quantum(instrument.step_size)
    return out if fraction is None else out.quantize(fraction)


def check_order(
    instrument: Instrument, qty: Decimal, price: Decimal, *, reduce_only: bool = False
) -> None:
    """Raise ``OrderRejected`` if the order breaks the instrument's filters.

    Reduce-only orders are exempt from the minimum notional, as on the real venues,
    so a small remainder can always be closed.
    """
    # compared with a Decimal zero: an int is converted to a new Decimal per comparison
    if qty <= _ZERO:
        raise OrderRejected(f"{instrument.symbol}: quantity {qty} must be > 0")
    step = instrument.step_size
    if step > _ZERO and qty % step != _ZERO:
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

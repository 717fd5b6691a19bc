"""Rounding to a tick or a lot step: the one-``quantize`` shortcut for steps such as 0.01
or exactly 1 gives the value *and the exponent* of the general divide / round / multiply
/ quantize path (reports print these Decimals, so ``Decimal("5.0")`` is not ``5``)."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kinetic.domain import Instrument, MarketType
from kinetic.venues.base import round_price, round_quantity

MODES = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}
# powers of ten (the shortcut), the same values spelt with other exponents (``1.0``,
# ``0.010``, ``1E+1``: equal Decimals that must not share a cached kind), and others
STEPS = [
    "0.01", "0.010", "1", "1.0", "1E+1", "10", "0.5", "0.25", "5", "0.1", "1E-8",
    "0.00000001", "1E-12", "0", "-0.01",
]  # fmt: skip
INST = Instrument(
    "X", "X", "USDT", MarketType.SPOT, Decimal("0.01"), Decimal(1), Decimal(0), Decimal(0)
)


def _reference_price(price: Decimal, tick: Decimal, mode: str) -> Decimal:
    """The general path, as it was before the shortcut."""
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(rounding=MODES[mode])
    normal = tick.normalize()
    exponent = normal.as_tuple().exponent
    quantum = normal if isinstance(exponent, int) and exponent < 0 else None
    return steps * tick if quantum is None else (steps * tick).quantize(quantum)


def _reference_quantity(qty: Decimal, step: Decimal) -> Decimal:
    out = qty if step <= 0 else (qty / step).to_integral_value(rounding=ROUND_FLOOR) * step
    normal = step.normalize()
    exponent = normal.as_tuple().exponent
    return out.quantize(normal) if isinstance(exponent, int) and exponent < 0 else out


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return str(fn(*args))  # str: the exponent counts, not only the value
    except InvalidOperation:
        return "InvalidOperation"


prices = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: Decimal(repr(x))),
    st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**7).flatmap(
        lambda n: st.integers(0, 12).map(lambda e: Decimal(n).scaleb(-e))
    ),
    # 28 significant digits, as products of Decimals come out (entry x (1 - fraction))
    st.floats(1e-6, 1e5).map(lambda x: Decimal(x) * Decimal(1) / Decimal(3)),
)


@settings(max_examples=400, deadline=None)
@given(prices, st.sampled_from(STEPS), st.sampled_from(sorted(MODES)))
# more digits than the context's 28: the general path's division rounds them first
@example(
    Decimal("488281.249999999999999999999950000167411350204609685664709304141"), "0.01", "down"
)
@example(Decimal("-0"), "0.01", "up")
@example(Decimal("1.00000000000000000000000000000000"), "0.01", "nearest")
def test_round_price_matches_the_general_path_in_value_and_exponent(
    price: Decimal, tick: str, mode: str
) -> None:
    # a fresh Decimal each time, and the cached one: both spellings must agree
    for t in (Decimal(tick), Decimal(tick)):
        assert _outcome(round_price, price, t, mode) == _outcome(_reference_price, price, t, mode)


@settings(max_examples=400, deadline=None)
@given(prices, st.sampled_from(STEPS))
@example(Decimal("3.99999999999999999999999999999999"), "1")
@example(Decimal("3.99999999999999999999999999999999"), "0.01")
@example(Decimal("-0"), "1")
def test_round_quantity_matches_the_general_path_in_value_and_exponent(
    qty: Decimal, step: str
) -> None:
    for s in (Decimal(step), Decimal(step)):
        inst = replace(INST, step_size=s)
        assert _outcome(round_quantity, qty, inst) == _outcome(_reference_quantity, qty, s)


def test_equal_steps_with_other_exponents_keep_their_own_results() -> None:
    one, one_point_zero = Decimal("1"), Decimal("1.0")
    qty = Decimal("5.75")
    # whole units: ``5``; a step spelt 1.0 keeps the general path's ``5.0``
    assert str(round_quantity(qty, replace(INST, step_size=one))) == "5"
    assert str(round_quantity(qty, replace(INST, step_size=one_point_zero))) == "5.0"
    assert str(round_quantity(qty, replace(INST, step_size=one))) == "5"
    assert str(round_price(Decimal("57000"), Decimal("0.01"), "up")) == "57000.00"
    assert str(round_price(Decimal("0.00005"), Decimal("0.01"), "down")) == "0.00"
    assert str(round_price(Decimal("69486.7"), Decimal("10"), "down")) == "69480"

"""Column types shared by the ORM models and the migrations.

``ExactDecimal`` stores money and quantities without ever passing through a float:
``NUMERIC(38, 18)`` on PostgreSQL and the decimal's text on SQLite (whose NUMERIC
affinity would coerce to a double). Both backends hand back the same canonical
``Decimal``: at most 18 fractional digits, trailing zeros stripped.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

SCALE = 18
PRECISION = 38
_QUANTUM = Decimal(1).scaleb(-SCALE)


def canonical_decimal(value: Decimal) -> Decimal:
    """Return ``value`` rounded to ``SCALE`` places with trailing zeros stripped.

    Values that already fit 18 decimal places are unchanged numerically. The
    exponent is never positive, so ``Decimal(100)`` stays ``100``, not ``1E+2``.
    """
    if not value.is_finite():
        raise ValueError(f"cannot store non-finite decimal {value!r}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -SCALE:
        value = value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


class ExactDecimal(sa.types.TypeDecorator[Decimal]):
    """A ``Decimal`` column that round-trips exactly on SQLite and PostgreSQL."""

    impl = sa.Numeric(PRECISION, SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Use text on SQLite, ``NUMERIC(38, 18)`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(64))
        return dialect.type_descriptor(sa.Numeric(PRECISION, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Canonicalise the decimal; render it as text for SQLite."""
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("ExactDecimal refuses floats; pass a Decimal or a str")
        number = canonical_decimal(Decimal(value))
        if dialect.name == "sqlite":
            return format(number, "f")
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Parse the stored value back into a canonical ``Decimal``."""
        if value is None:
            return None
        return canonical_decimal(Decimal(value))

    @property
    def python_type(self) -> type[Decimal]:
        """Report ``Decimal`` as the Python type."""
        return Decimal

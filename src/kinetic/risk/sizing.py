"""Position sizing: confidence-scaled margin for futures, fixed fraction for spot."""

from __future__ import annotations

from decimal import Decimal

from kinetic.domain import HUNDRED, ZERO
from kinetic.domain import as_decimal as _dec


class ConfidencePositionSizer:
    """Scale the margin fraction linearly with signal confidence.

    ``size_pct`` is ``min_pct`` at ``min_confidence``, ``max_pct`` at 100 and 0 below
    ``min_confidence``.
    """

    def __init__(self, min_pct: float, max_pct: float, min_confidence: int) -> None:
        if not 0 < min_pct <= max_pct <= 100:
            raise ValueError(f"need 0 < min_pct <= max_pct <= 100, got {min_pct} / {max_pct}")
        if not 0 <= min_confidence <= 100:
            raise ValueError(f"min_confidence must be within 0..100, got {min_confidence}")
        self.min_pct = min_pct
        self.max_pct = max_pct
        self.min_confidence = min_confidence

    def size_pct(self, confidence: float) -> float:
        """Return the percent of equity to commit as margin for ``confidence``."""
        if confidence < self.min_confidence:
            return 0.0
        if self.min_confidence >= 100:
            return self.max_pct
        frac = (min(confidence, 100) - self.min_confidence) / (100 - self.min_confidence)
        pct = self.min_pct + (self.max_pct - self.min_pct) * frac
        return min(max(pct, self.min_pct), self.max_pct)

    def quantity(
        self, equity: Decimal, price: Decimal, confidence: float, leverage: int = 1
    ) -> Decimal:
        """Return the base quantity: ``equity * pct / 100 * leverage / price`` (unrounded)."""
        if price <= 0:
            raise ValueError(f"price must be positive, got {price}")
        if leverage < 1:
            raise ValueError(f"leverage must be >= 1, got {leverage}")
        pct = self.size_pct(confidence)
        if pct <= 0 or equity <= 0:
            return ZERO
        margin = equity * _dec(pct) / HUNDRED
        return margin * Decimal(leverage) / price


def fixed_fraction_quantity(equity: Decimal, pct: float, price: Decimal) -> Decimal:
    """Return the spot quantity buying ``pct`` percent of ``equity`` at ``price`` (unrounded)."""
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    if not 0 <= pct <= 100:
        raise ValueError(f"pct must be within 0..100, got {pct}")
    if equity <= 0:
        return ZERO
    return equity * _dec(pct) / HUNDRED / price

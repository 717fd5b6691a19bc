"""Leverage chosen from the market regime and the signal confidence."""

from __future__ import annotations

from kinetic.domain import Regime

TRANSITIONAL_SHARE = 0.35  # of the min..max range, at full confidence


class RegimeLeverageCalculator:
    """Pick a leverage in ``[min_lev, max_lev]``.

    TRENDING scales with confidence from ``min_lev`` (confidence 0) to ``max_lev`` (100);
    TRANSITIONAL reaches at most 35 % of the range; SIDEWAYS always uses ``min_lev``.
    """

    def __init__(self, min_lev: int, max_lev: int) -> None:
        if not 1 <= min_lev <= max_lev:
            raise ValueError(f"need 1 <= min_lev <= max_lev, got {min_lev} / {max_lev}")
        self.min_lev = min_lev
        self.max_lev = max_lev

    def leverage(self, regime: Regime | None, confidence: float) -> int:
        """Return the leverage for ``regime`` and ``confidence`` (0..100, clamped)."""
        frac = min(max(confidence, 0.0), 100.0) / 100.0
        span = self.max_lev - self.min_lev
        if regime is Regime.TRENDING:
            extra = span * frac
        elif regime is Regime.TRANSITIONAL:
            extra = span * TRANSITIONAL_SHARE * frac
        else:
            extra = 0.0
        return max(self.min_lev, min(self.max_lev, self.min_lev + int(extra)))

"""CapitalAllocator: split the portfolio between the engines (seed 000 §3, properties 5-7)."""

from __future__ import annotations

from decimal import Decimal

from config import ConfigValidationError, UnifiedConfig
from kinetic.domain import HUNDRED, ZERO, CapitalAllocation, builder, exact

ENGINES = ("spot", "futures")


_new_allocation = builder(CapitalAllocation)  # ``CapitalAllocation(...)``, per entry


class CapitalAllocator:
    """Give each enabled engine its configured share; a disabled engine's share moves on.

    With both engines enabled each gets exactly its configured percentage. With one
    engine disabled (by config, or at run time after it exhausted its restart budget)
    the other has access to 100% of the portfolio.
    """

    def __init__(self, config: UnifiedConfig) -> None:
        self._configured = {"spot": config.spot_capital_pct, "futures": config.futures_capital_pct}
        self._enabled = {"spot": config.spot_enabled, "futures": config.futures_enabled}
        # engine -> (allocated_pct, exact(allocated_pct)): asked per entry, changed only by
        # ``disable`` (which forgets them)
        self._shares: dict[str, tuple[float, Decimal]] = {}
        self._validate_allocation()

    def _validate_allocation(self) -> None:
        total = sum(self._configured.values())
        if total > 100.0:
            raise ConfigValidationError(
                f"spot_capital_pct ({self._configured['spot']:g}) + futures_capital_pct "
                f"({self._configured['futures']:g}) = {total:g}; allowed: sum <= 100",
                ("spot_capital_pct", "futures_capital_pct"),
            )

    @property
    def enabled(self) -> list[str]:
        return [e for e in ENGINES if self._enabled[e]]

    def is_enabled(self, engine: str) -> bool:
        return self._enabled.get(engine, False)

    def allocated_pct(self, engine: str) -> float:
        """Return the percentage of the portfolio ``engine`` may use."""
        enabled = self._enabled
        if not enabled.get(engine, False):
            return 0.0
        count = 0  # len(self.enabled), without the list (every entry asks)
        for name in ENGINES:
            if enabled[name]:
                count += 1
        if count == 1:
            return 100.0
        return self._configured[engine]

    def total_pct(self) -> float:
        return sum(self.allocated_pct(e) for e in ENGINES)

    def get_allocation(
        self, engine: str, total_portfolio: Decimal, exposure: Decimal = ZERO
    ) -> CapitalAllocation:
        """Return ``engine``'s allocation of ``total_portfolio`` given its current exposure."""
        share = self._shares.get(engine)
        if share is None:
            share = self._shares[engine] = (pct := self.allocated_pct(engine), exact(pct))
        pct = share[0]
        allocated = total_portfolio * share[1] / HUNDRED
        room = allocated - exposure  # ``max(ZERO, room)``: ZERO itself unless room > 0
        # positional: (engine_name, allocated_pct, allocated_usd, current_exposure_usd,
        # available_usd)
        return _new_allocation(engine, pct, allocated, exposure, room if room > ZERO else ZERO)

    def disable(self, engine: str) -> None:
        """Mark ``engine`` as disabled; its share goes to the remaining engine."""
        self._enabled[engine] = False
        self._shares.clear()

    def reallocate_disabled_capital(self) -> dict[str, float]:
        """Return the current percentage per engine after moving disabled shares."""
        return {e: self.allocated_pct(e) for e in ENGINES}

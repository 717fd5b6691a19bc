"""Futures position maths: weighted-average entry, realized PnL and liquidation price.

A position keeps its signed quantity and its cost basis (price × quantity of the open
part) instead of an average entry, so realized plus unrealized PnL is exact in Decimal:
closing part of a position removes a pro-rata share of the cost basis, and whatever
rounding that share carries stays inside the remaining basis rather than vanishing.

Liquidation price (isolated margin, one-way mode, maintenance margin rate ``mmr``):
the position is liquidated when its isolated margin plus unrealized PnL falls to the
maintenance margin ``mmr × entry × qty``. With margin ``entry × qty / leverage``:

* long:  ``entry × (1 − 1/leverage + mmr)``
* short: ``entry × (1 + 1/leverage − mmr)``

This ignores fees and Binance's maintenance-amount tiers, which is close enough for
a simulator and errs on the side of liquidating slightly early.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kinetic.domain import ZERO, PositionSide, Side

DEFAULT_MMR = Decimal("0.004")
# Pro-rata cost shares are quantized so balances never outgrow Decimal's 28 digits.
ACCOUNTING_QUANTUM = Decimal("1e-12")


def liquidation_price(
    side: PositionSide, entry: Decimal, leverage: int, mmr: Decimal = DEFAULT_MMR
) -> Decimal:
    """Return the isolated-margin liquidation price for a position (see module doc)."""
    inverse = Decimal(1) / Decimal(leverage)
    if side is PositionSide.LONG:
        return entry * (1 - inverse + mmr)
    return entry * (1 + inverse - mmr)


@dataclass(slots=True)
class SimPosition:
    """One-way-mode position: signed quantity (long > 0) and absolute cost basis."""

    qty: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def side(self) -> PositionSide:
        """Return LONG for a positive quantity, SHORT otherwise."""
        return PositionSide.LONG if self.qty > 0 else PositionSide.SHORT

    @property
    def size(self) -> Decimal:
        """Return the absolute quantity."""
        return abs(self.qty)

    @property
    def entry(self) -> Decimal:
        """Return the weighted-average entry price (0 when flat)."""
        return self.cost / self.size if self.qty else ZERO

    def unrealized(self, mark: Decimal) -> Decimal:
        """Return the unrealized PnL at ``mark``."""
        return (mark * self.size - self.cost) * self.side.sign

    def apply(self, side: Side, qty: Decimal, price: Decimal) -> Decimal:
        """Apply a trade of ``qty`` at ``price``; return the PnL it realized."""
        signed = qty if side is Side.BUY else -qty
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            self.qty += signed
            self.cost += qty * price
            return ZERO
        closing = min(qty, self.size)
        if closing == self.size:
            removed = self.cost
        else:
            removed = (self.cost * closing / self.size).quantize(ACCOUNTING_QUANTUM)
        realized = (price * closing - removed) * self.side.sign
        self.cost -= removed
        self.qty += signed
        if self.qty != 0 and self.cost == 0:
            # The trade flipped the position: the remainder opens at ``price``.
            self.cost = self.size * price
        return realized

"""Drift detection: an engine's books against the venue's account (seed 003 phase 3).

The books are what the engine believes (PositionManager cash and positions, the OMS's
open orders); the venue view is what the account holds. ``compare`` lists every
difference beyond tolerance. It is pure; ``read_venue_view`` does the venue calls.

* Cash: the quote balance (spot) or the wallet (futures), relative tolerance.
* Positions: futures positions must match in side and size (to the step size); a spot
  position must be covered by the base-asset balance (the account may hold more coins
  than the engine's position: the operator's own holdings are not drift).
* Orders: an open order of ours (our client-id prefix) that the books do not know, or a
  book order the venue no longer lists as open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from kinetic.domain import ZERO, MarketType, Order, Position, PositionSide
from kinetic.venues.base import FuturesVenue, SpotVenue


@dataclass(frozen=True, slots=True)
class AccountView:
    """Cash, positions and open orders, as the books or the venue see them."""

    cash: Decimal | None
    positions: dict[str, tuple[PositionSide, Decimal]]
    open_orders: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference between the books and the venue."""

    kind: str  # "cash" | "position" | "order"
    symbol: str
    book: str
    venue: str

    def describe(self) -> str:
        where = f" {self.symbol}" if self.symbol else ""
        return f"{self.kind}{where}: books {self.book}, venue {self.venue}"


def book_view(
    cash: Decimal, positions: Iterable[Position], open_orders: Iterable[Order]
) -> AccountView:
    """The engine's own view."""
    return AccountView(
        cash,
        {p.symbol: (p.side, p.quantity) for p in positions},
        frozenset(o.client_order_id for o in open_orders),
    )


def compare(
    book: AccountView,
    venue: AccountView,
    market: MarketType,
    *,
    cash_tolerance_pct: float,
    qty_tolerance: Callable[[str], Decimal],
) -> list[Drift]:
    """Every difference between ``book`` and ``venue`` beyond tolerance."""
    out: list[Drift] = []
    if book.cash is not None and venue.cash is not None:
        allowed = abs(book.cash) * Decimal(str(cash_tolerance_pct)) / 100
        if abs(book.cash - venue.cash) > allowed:
            out.append(Drift("cash", "", str(book.cash), str(venue.cash)))
    for symbol in sorted(set(book.positions) | set(venue.positions)):
        mine = book.positions.get(symbol)
        theirs = venue.positions.get(symbol)
        if _position_differs(mine, theirs, market, qty_tolerance(symbol)):
            out.append(Drift("position", symbol, _fmt(mine), _fmt(theirs)))
    for cid in sorted(book.open_orders - venue.open_orders):
        out.append(Drift("order", "", f"{cid} open", "not open"))
    for cid in sorted(venue.open_orders - book.open_orders):
        out.append(Drift("order", "", "unknown", f"{cid} open"))
    return out


def _position_differs(
    mine: tuple[PositionSide, Decimal] | None,
    theirs: tuple[PositionSide, Decimal] | None,
    market: MarketType,
    tolerance: Decimal,
) -> bool:
    if market is MarketType.SPOT:
        held = theirs[1] if theirs else ZERO
        return mine is not None and held + tolerance < mine[1]
    if mine is None or theirs is None:
        return (mine or theirs) is not None
    return mine[0] is not theirs[0] or abs(mine[1] - theirs[1]) > tolerance


def _fmt(pos: tuple[PositionSide, Decimal] | None) -> str:
    return "flat" if pos is None else f"{pos[0]} {pos[1]}"


async def read_venue_view(
    venue: SpotVenue,
    market: MarketType,
    quote: str,
    base_assets: dict[str, str],
    ours: Callable[[str], bool],
) -> AccountView:
    """Read the account as the venue reports it.

    ``base_assets`` maps each watched symbol to its base asset (spot positions are
    balances); ``ours`` tells which open orders carry this engine's client-id prefix.
    """
    balances = await venue.get_balances()
    cash_balance = balances.get(quote)
    cash = cash_balance.total if cash_balance is not None else None
    positions: dict[str, tuple[PositionSide, Decimal]] = {}
    if market is MarketType.FUTURES:
        assert isinstance(venue, FuturesVenue)
        for p in await venue.get_positions():
            if p.quantity > 0:
                positions[p.symbol] = (p.side, p.quantity)
    else:
        for symbol, asset in base_assets.items():
            held = balances.get(asset)
            if held is not None and held.total > 0:
                positions[symbol] = (PositionSide.LONG, held.total)
    orders = frozenset(
        o.client_order_id for o in await venue.get_open_orders() if ours(o.client_order_id)
    )
    return AccountView(cash, positions, orders)

"""PositionManager: one engine's positions and cash, with exact Decimal accounting.

Spot: buying spends quote cash (price x qty + fee); selling returns it. Futures (USD-M,
isolated): cash is the wallet; opening reserves margin (notional / leverage) without
spending it; realized PnL and fees move the wallet. Entry price is the weighted
average cost; partial closes realize PnL pro rata. Equity = cash + value of positions
(spot: market value; futures: unrealized PnL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from kinetic.domain import (
    ZERO,
    ClosedTrade,
    Fill,
    MarketType,
    Position,
    PositionSide,
    Side,
    builder,
    quick_init,
)

_NOTHING_CLOSED = (ZERO, ZERO, ZERO)  # qty, gross, fees of a close not started
# module globals for the per-fill path: an enum member read from its class takes
# ``EnumType``'s slow ``__getattr__`` hook, and the side properties are calls
_SPOT, _BUY = MarketType.SPOT, Side.BUY
_LONG, _SHORT = PositionSide.LONG, PositionSide.SHORT
ENTRY_SIDE = {s: s.entry_side for s in PositionSide}  # ``PositionSide.entry_side``
# ``PositionSide.sign`` as a Decimal: a Decimal times an int converts the int per operation
_SIGN = {s: Decimal(s.sign) for s in PositionSide}
_NO_PRICES: dict[str, Decimal] = {}  # read by nothing: the figures of a flat book


@quick_init
@dataclass(frozen=True, slots=True)
class EntryPlan:
    """Protective levels to attach to a position when its entry order fills."""

    side: PositionSide
    stop_price: Decimal
    take_profit: Decimal | None
    leverage: int = 1
    confidence: int = 0
    reason: str = ""


# ``EntryPlan(...)``, ``Position(...)``, ``ClosedTrade(...)`` through twins (``builder``)
new_entry_plan = builder(EntryPlan)
_new_position, _new_trade = builder(Position), builder(ClosedTrade)


class PositionManager:
    """Track one engine's positions, cash, realized PnL and fees."""

    def __init__(
        self, engine: str, market: MarketType, starting_cash: Decimal, quote: str = "USDT"
    ) -> None:
        self.engine = engine
        self.market = market
        self.starting_cash = starting_cash
        self.quote = quote  # fees in any other asset were taken from the bought coins
        self.cash = starting_cash
        self.positions: dict[str, Position] = {}
        self.realized_pnl = ZERO  # net of fees
        self.fees_paid = ZERO
        self.funding = ZERO
        self.fill_count = 0
        self.closed_trades = 0
        # running totals of a position being closed in several fills: qty, gross, fees
        self._closing: dict[str, tuple[Decimal, Decimal, Decimal]] = {}

    # ------------------------------------------------------------------ queries
    def has_position(self, symbol: str) -> bool:
        return symbol in self.positions

    def unrealized(self, prices: dict[str, Decimal]) -> Decimal:
        return sum(
            (p.unrealized_pnl(prices.get(s, p.entry_price)) for s, p in self.positions.items()),
            ZERO,
        )

    def exposure(self, prices: dict[str, Decimal]) -> Decimal:
        """Capital in use: market value (spot) or reserved margin (futures)."""
        total = ZERO
        for s, p in self.positions.items():
            price = prices.get(s, p.entry_price)
            if self.market is _SPOT:
                total += p.notional(price)
            else:
                total += p.notional(p.entry_price) / Decimal(p.leverage)
        return total

    def equity(self, prices: dict[str, Decimal]) -> Decimal:
        if self.market is _SPOT:
            total = ZERO  # as sum(..., ZERO): the same additions in the same order
            for s, p in self.positions.items():
                total += p.notional(prices.get(s, p.entry_price))
            return self.cash + total
        return self.cash + self.unrealized(prices)

    def available(self, prices: dict[str, Decimal]) -> Decimal:
        """Cash free for new entries."""
        if self.market is _SPOT:
            return self.cash
        return self.cash - self.exposure(prices)

    # the figures of a flat book read no price: the engines ask for prices only when held
    def equity_now(self, prices: Callable[[], dict[str, Decimal]]) -> Decimal:
        """``equity(prices())``; a flat book's is ``cash + ZERO``, so no prices are asked for."""
        if not self.positions:  # ``equity`` of a flat book, either market: no sum to add
            return self.cash + ZERO
        return self.equity(prices())

    def exposure_now(self, prices: Callable[[], dict[str, Decimal]]) -> Decimal:
        """``exposure(prices())``; ZERO for a flat book, without asking for prices."""
        return self.exposure(prices() if self.positions else _NO_PRICES)

    def available_now(self, prices: Callable[[], dict[str, Decimal]]) -> Decimal:
        """``available(prices())``; spot and flat books read cash alone, without prices."""
        held = self.positions and self.market is not _SPOT
        return self.available(prices() if held else _NO_PRICES)

    # ------------------------------------------------------------------ updates
    def apply_fill(
        self, fill: Fill, plan: EntryPlan | None = None, *, reason: str = ""
    ) -> ClosedTrade | None:
        """Apply one fill; return the ClosedTrade when it closes a position."""
        if fill.fee_asset != self.quote:  # a fee in the quote asset needs no conversion
            fill = self._fee_in_quote(fill)
        self.fill_count += 1
        self.fees_paid += fill.fee
        pos = self.positions.get(fill.symbol)
        if pos is None or ENTRY_SIDE[pos.side] is fill.side:
            self._increase(fill, pos, plan)
            return None
        return self._reduce(fill, pos, reason)

    def _fee_in_quote(self, fill: Fill) -> Fill:
        """Express a spot buy's fee taken in the base asset as quote, on a net quantity.

        Binance spot without BNB charges a buy's fee in the coin bought: the account then
        holds ``qty - fee``. The position tracks what is held; the fee is valued at the
        fill price, so cash still drops by exactly ``qty * price``.
        """
        in_base = (
            self.market is _SPOT
            and fill.side is _BUY
            and bool(fill.fee_asset)
            and fill.fee_asset != self.quote
        )
        if not in_base:
            return fill
        return dataclasses.replace(
            fill,
            quantity=fill.quantity - fill.fee,
            fee=fill.fee * fill.price,
            fee_asset=self.quote,
        )

    def apply_funding(self, amount: Decimal) -> None:
        """Credit (positive) or debit (negative) a funding payment."""
        self.cash += amount
        self.funding += amount
        self.realized_pnl += amount

    def _increase(self, fill: Fill, pos: Position | None, plan: EntryPlan | None) -> None:
        if self.market is _SPOT:
            self.cash -= fill.quantity * fill.price + fill.fee
        else:
            self.cash -= fill.fee
        self.realized_pnl -= fill.fee
        if pos is None:
            side = _LONG if fill.side is _BUY else _SHORT
            if plan is not None and plan.side is not side:
                raise ValueError(
                    f"{fill.symbol}: entry fill side {fill.side} contradicts plan {plan.side}"
                )
            price = fill.price
            # positional (a builder call by keyword sorts its names out per call): symbol,
            # side, quantity, entry_price, opened_ms, stop_price, take_profit, leverage,
            # fees, best_price, trailing_active, liquidation_price, confidence, entry_reason
            if plan is not None:
                self.positions[fill.symbol] = _new_position(
                    fill.symbol, side, fill.quantity, price, fill.ts_ms, plan.stop_price,
                    plan.take_profit, plan.leverage, fill.fee, price, False, None,
                    plan.confidence, plan.reason,
                )  # fmt: skip
            else:
                self.positions[fill.symbol] = _new_position(
                    fill.symbol, side, fill.quantity, price, fill.ts_ms, ZERO, None, 1,
                    fill.fee, price, False, None, 0, "",
                )  # fmt: skip
            return
        new_qty = pos.quantity + fill.quantity
        pos.entry_price = (pos.entry_price * pos.quantity + fill.price * fill.quantity) / new_qty
        pos.quantity = new_qty
        pos.fees += fill.fee

    def _reduce(self, fill: Fill, pos: Position, reason: str) -> ClosedTrade | None:
        qty = min(fill.quantity, pos.quantity)
        sign = _SIGN[pos.side]
        gross = (fill.price - pos.entry_price) * qty * sign
        if self.market is _SPOT:
            self.cash += qty * fill.price - fill.fee
        else:
            self.cash += gross - fill.fee
        self.realized_pnl += gross - fill.fee
        entry_fee_share = pos.fees * qty / pos.quantity
        pos.fees -= entry_fee_share
        pos.quantity -= qty
        c_qty, c_gross, c_fees = self._closing.get(fill.symbol, _NOTHING_CLOSED)
        c_qty, c_gross, c_fees = c_qty + qty, c_gross + gross, c_fees + entry_fee_share + fill.fee
        if pos.quantity > ZERO:
            self._closing[fill.symbol] = (c_qty, c_gross, c_fees)
            return None
        self._closing.pop(fill.symbol, None)
        del self.positions[fill.symbol]
        self.closed_trades += 1
        exit_price = pos.entry_price + c_gross / c_qty * sign
        return _new_trade(  # positional, in ``ClosedTrade``'s field order
            self.engine, fill.symbol, pos.side, c_qty, pos.entry_price, exit_price,
            pos.opened_ms, fill.ts_ms, c_gross - c_fees, c_fees, reason or "exit", pos.leverage,
        )  # fmt: skip

    def restore(self, positions: list[Position], cash: Decimal, realized: Decimal) -> None:
        """Load state persisted by an earlier run."""
        self.positions = {p.symbol: p for p in positions}
        self.cash = cash
        self.realized_pnl = realized

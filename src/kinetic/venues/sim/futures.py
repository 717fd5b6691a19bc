"""SimFuturesExchange: USD-M style perpetuals, one-way mode, isolated margin."""

from __future__ import annotations

from decimal import Decimal

from kinetic.clock import Clock
from kinetic.costs import CostModel
from kinetic.domain import (
    ZERO,
    Balance,
    Fill,
    Instrument,
    Order,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    VenuePosition,
)
from kinetic.venues.base.errors import InsufficientFunds, OrderRejected, PermanentError
from kinetic.venues.base.filters import round_price
from kinetic.venues.sim.margin import (
    ACCOUNTING_QUANTUM,
    DEFAULT_MMR,
    SimPosition,
    liquidation_price,
)
from kinetic.venues.sim.pricing import Bar
from kinetic.venues.sim.venue import SimVenueBase

MAX_LEVERAGE = 125


class SimFuturesExchange(SimVenueBase):
    """A simulated USD-M perpetual venue implementing ``FuturesVenue``.

    The wallet holds USDT: realized PnL, fees and funding move it. Initial margin
    (``cost basis / leverage``) of open positions and of resting orders that would open
    exposure is reserved out of it; ``available_balance()`` is what is left. Positions
    are liquidated on a candle that crosses their liquidation price
    (see ``kinetic.venues.sim.margin``), losing their whole isolated margin.
    """

    def __init__(
        self,
        instruments: dict[str, Instrument],
        clock: Clock,
        wallet_balance: Decimal,
        *,
        taker_fee: Decimal = Decimal("0.0005"),
        maker_fee: Decimal = Decimal("0.0002"),
        slippage_bps: Decimal = ZERO,
        costs: CostModel | None = None,
        name: str = "sim-futures",
        maintenance_margin_rate: Decimal = DEFAULT_MMR,
        default_leverage: int = 1,
    ) -> None:
        super().__init__(
            instruments=instruments,
            clock=clock,
            taker_fee=taker_fee,
            maker_fee=maker_fee,
            slippage_bps=slippage_bps,
            costs=costs,
            name=name,
        )
        _check_leverage(default_leverage)
        self._wallet = Decimal(wallet_balance)
        self._mmr = maintenance_margin_rate
        self._default_leverage = default_leverage
        self._leverage: dict[str, int] = {}
        self._isolated: set[str] = set()
        self._positions: dict[str, SimPosition] = {}
        self._reserved: dict[str, Decimal] = {}
        self._realized = ZERO
        self._fees = ZERO
        self._funding = ZERO

    # ----------------------------------------------------------- account queries

    def wallet_balance(self) -> Decimal:
        """Return the wallet: deposits + realized PnL − fees − funding paid."""
        return self._wallet

    def unrealized_pnl(self) -> Decimal:
        """Return the unrealized PnL of every position at the last price."""
        return sum((p.unrealized(self._mark(s, p)) for s, p in self._positions.items()), ZERO)

    def equity(self) -> Decimal:
        """Return wallet balance plus unrealized PnL."""
        self._check_dead_man_switch()
        return self._wallet + self.unrealized_pnl()

    def available_balance(self) -> Decimal:
        """Return the wallet minus the margin of positions and of resting orders."""
        used = sum((self._margin(s, p) for s, p in self._positions.items()), ZERO)
        return self._wallet - used - sum(self._reserved.values(), ZERO)

    def realized_pnl(self) -> Decimal:
        """Return the cumulative realized PnL (liquidations lose their margin)."""
        return self._realized

    def fees_paid(self) -> Decimal:
        """Return the cumulative trading fees."""
        return self._fees

    def funding_paid(self) -> Decimal:
        """Return the cumulative funding paid (negative when received)."""
        return self._funding

    def leverage(self, symbol: str) -> int:
        """Return the leverage set for ``symbol``."""
        return self._leverage.get(symbol, self._default_leverage)

    def liquidation_at(self, symbol: str) -> Decimal | None:
        """The price at which ``symbol``'s position is liquidated (None: no position)."""
        pos = self._positions.get(symbol)
        return None if pos is None else self._liquidation_price(self._instrument(symbol), pos)

    @property
    def isolated_symbols(self) -> frozenset[str]:
        """Return the symbols ``set_isolated_margin`` was called for."""
        return frozenset(self._isolated)

    async def get_balances(self) -> dict[str, Balance]:
        """Return the USDT wallet split into available (free) and margin (locked)."""
        self._check_dead_man_switch()
        free = self.available_balance()
        return {"USDT": Balance("USDT", free, self._wallet - free)}

    async def get_positions(self) -> list[VenuePosition]:
        """Return every open position with its margin and liquidation price."""
        self._check_dead_man_switch()
        return [self._report(s, p) for s, p in self._positions.items()]

    # ------------------------------------------------------------- account setup

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set ``symbol``'s leverage (1..125); an open position's margin is re-reserved."""
        self._check_dead_man_switch()
        self._instrument(symbol)
        _check_leverage(leverage)
        pos = self._positions.get(symbol)
        if pos is not None:
            extra = pos.cost / leverage - self._margin(symbol, pos)
            if extra > self.available_balance():
                raise InsufficientFunds(
                    f"{self.name}: leverage {leverage} needs {extra} more margin", venue=self.name
                )
        self._leverage[symbol] = leverage

    async def set_isolated_margin(self, symbol: str) -> None:
        """Record isolated margin for ``symbol`` (the simulator is always isolated)."""
        self._check_dead_man_switch()
        self._instrument(symbol)
        self._isolated.add(symbol)

    def apply_funding(self, symbol: str, rate: Decimal) -> Decimal:
        """Settle funding at mark × ``rate``; longs pay a positive rate. Return the payment."""
        self._check_dead_man_switch()
        self._instrument(symbol)
        pos = self._positions.get(symbol)
        if pos is None:
            return ZERO
        payment = pos.qty * self._mark(symbol, pos) * rate
        self._wallet -= payment
        self._funding += payment
        return payment

    # ---------------------------------------------------------- accounting hooks

    def _admit(self, order: Order, inst: Instrument, price: Decimal) -> Decimal:
        pos = self._positions.get(order.symbol)
        if order.reduce_only:
            qty = _reducible(order.side, order.quantity, pos)
            if qty <= 0:
                raise OrderRejected(
                    f"{self.name}: reduce-only {order.side} {order.symbol} would not reduce "
                    "the position",
                    venue=self.name,
                    code=-2022,
                )
            return qty
        margin = _opening(order.side, order.quantity, pos) * price / self.leverage(order.symbol)
        is_market = order.order_type is OrderType.MARKET
        fee = order.quantity * price * self._taker_fee if is_market else ZERO
        available = self.available_balance()
        if available < margin + fee:
            raise InsufficientFunds(
                f"{self.name}: {order.symbol} needs margin {margin + fee}, available {available}",
                venue=self.name,
                code=-2019,
            )
        if not is_market and margin > 0:
            self._reserved[order.client_order_id] = margin
        return order.quantity

    def _release(self, order: Order) -> None:
        self._reserved.pop(order.client_order_id, None)

    def _fillable(self, order: Order, price: Decimal, is_maker: bool) -> Decimal:
        pos = self._positions.get(order.symbol)
        if order.reduce_only:
            return _reducible(order.side, order.remaining, pos)
        margin = _opening(order.side, order.remaining, pos) * price / self.leverage(order.symbol)
        return order.remaining if margin <= self.available_balance() else ZERO

    def _settle(
        self,
        order: Order,
        inst: Instrument,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        notional: Decimal,
    ) -> None:
        pos = self._positions.get(order.symbol)  # ``setdefault``, without a position per call
        if pos is None:
            pos = self._positions[order.symbol] = SimPosition()
        realized = pos.apply(order.side, qty, price)
        self._wallet += realized - fee
        self._realized += realized
        self._fees += fee
        if pos.qty == 0:
            del self._positions[order.symbol]

    def _watches(self, symbol: str) -> bool:
        return symbol in self._positions  # liquidation is checked on every candle

    def _after_candle(self, bar: Bar, inst: Instrument) -> list[Fill]:
        pos = self._positions.get(bar.symbol)
        if pos is None:
            return []
        liq = self._liquidation_price(inst, pos)
        crossed = bar.low <= liq if pos.side is PositionSide.LONG else bar.high >= liq
        return [self._liquidate(inst, pos, liq)] if crossed else []

    # ----------------------------------------------------------------- internals

    def _liquidate(self, inst: Instrument, pos: SimPosition, price: Decimal) -> Fill:
        """Close ``pos`` at ``price``, forfeiting its isolated margin."""
        symbol = inst.symbol
        for order in self._book.open_for(symbol):
            self._finish(order, OrderStatus.CANCELED)
        margin = self._margin(symbol, pos)
        self._wallet -= margin
        self._realized -= margin
        del self._positions[symbol]
        now = self._clock.time_ms()
        order = Order(
            client_order_id=f"liquidation-{symbol}-{now}",
            symbol=symbol,
            side=pos.side.exit_side,
            order_type=OrderType.MARKET,
            quantity=pos.size,
            status=OrderStatus.FILLED,
            reduce_only=True,
            venue_order_id=str(next(self._order_seq)),
            filled_qty=pos.size,
            avg_price=price,
            created_ms=now,
            updated_ms=now,
        )
        self._book.add(order)
        fill = Fill(
            trade_id=f"liq-{self.name}-{next(self._trade_seq)}",
            client_order_id=order.client_order_id,
            symbol=symbol,
            side=order.side,
            quantity=pos.size,
            price=price,
            fee=ZERO,
            fee_asset=inst.quote,
            ts_ms=now,
            reduce_only=True,
        )
        self._book.add_fill(fill)
        return fill

    def _liquidation_price(self, inst: Instrument, pos: SimPosition) -> Decimal:
        """Return the liquidation price rounded to the tick, towards the entry."""
        raw = liquidation_price(pos.side, pos.entry, self.leverage(inst.symbol), self._mmr)
        if pos.side is PositionSide.LONG:
            return round_price(raw, inst.tick_size, "up")
        return round_price(raw, inst.tick_size, "down")

    def _margin(self, symbol: str, pos: SimPosition) -> Decimal:
        return (pos.cost / self.leverage(symbol)).quantize(ACCOUNTING_QUANTUM)

    def _mark(self, symbol: str, pos: SimPosition) -> Decimal:
        return self._last.get(symbol, pos.entry)

    def _report(self, symbol: str, pos: SimPosition) -> VenuePosition:
        inst = self._instruments[symbol]
        return VenuePosition(
            symbol=symbol,
            side=pos.side,
            quantity=pos.size,
            entry_price=pos.entry,
            leverage=self.leverage(symbol),
            isolated_margin=self._margin(symbol, pos),
            liquidation_price=self._liquidation_price(inst, pos),
            unrealized_pnl=pos.unrealized(self._mark(symbol, pos)),
        )


def _check_leverage(leverage: int) -> None:
    if not 1 <= leverage <= MAX_LEVERAGE:
        raise PermanentError(f"leverage {leverage} outside 1..{MAX_LEVERAGE}", code=-4028)


def _reducible(side: Side, qty: Decimal, pos: SimPosition | None) -> Decimal:
    """Return how much of ``qty`` on ``side`` reduces ``pos`` (0 if it would not)."""
    if pos is None or pos.qty == 0 or side is pos.side.entry_side:
        return ZERO
    return min(qty, pos.size)


def _opening(side: Side, qty: Decimal, pos: SimPosition | None) -> Decimal:
    """Return the part of ``qty`` on ``side`` that opens new exposure."""
    if pos is None or pos.qty == 0 or side is pos.side.entry_side:
        return qty
    return max(ZERO, qty - pos.size)

"""SimSpotExchange: spot matching with free/locked balances and quote-asset fees."""

from __future__ import annotations

from decimal import Decimal

from kinetic.clock import Clock
from kinetic.costs import CostModel
from kinetic.domain import ZERO, Balance, Instrument, Order, OrderType, Side
from kinetic.venues.base.errors import InsufficientFunds
from kinetic.venues.sim.venue import SimVenueBase

# module globals: an enum member read from its class takes ``EnumType``'s slow hook
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_BUY, _SELL = Side.BUY, Side.SELL


class SimSpotExchange(SimVenueBase):
    """A simulated spot venue implementing ``SpotVenue``.

    Fees are charged in the quote asset. A resting buy locks ``qty × price × (1 + fee)``
    of the quote asset (the limit for limits and stop-limits, the stop price after
    slippage for stop-markets); a resting sell locks the base quantity, so a protective
    sell stop leaves nothing free for a second sell. ``reduce_only`` has no meaning on
    spot and is ignored.
    """

    def __init__(
        self,
        instruments: dict[str, Instrument],
        clock: Clock,
        balances: dict[str, Decimal],
        *,
        taker_fee: Decimal = Decimal("0.001"),
        maker_fee: Decimal = Decimal("0.001"),
        slippage_bps: Decimal = ZERO,
        costs: CostModel | None = None,
        name: str = "sim-spot",
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
        self._free: dict[str, Decimal] = {a: Decimal(v) for a, v in balances.items()}
        self._locked: dict[str, Decimal] = {}
        self._reserved: dict[str, tuple[str, Decimal]] = {}
        self._fee_factors: tuple[Decimal | None, Decimal] = (None, Decimal(1))
        quotes = {i.quote for i in self._instruments.values()}
        self._quote = next(iter(sorted(quotes))) if quotes else "USDT"

    # ---------------------------------------------------------------- public extras

    def equity(self) -> Decimal:
        """Return quote balance plus every base balance valued at its last price."""
        self._check_dead_man_switch()
        total = self._total(self._quote)
        for inst in self._instruments.values():
            if inst.quote != self._quote:
                continue
            qty = self._total(inst.base)
            if qty:
                total += qty * self._last.get(inst.symbol, ZERO)
        return total

    async def get_balances(self) -> dict[str, Balance]:
        """Return every asset ever held, with free and locked amounts."""
        self._check_dead_man_switch()
        assets = sorted(set(self._free) | set(self._locked))
        return {a: Balance(a, self._free.get(a, ZERO), self._locked.get(a, ZERO)) for a in assets}

    # ------------------------------------------------------------ accounting hooks

    def _admit(self, order: Order, inst: Instrument, price: Decimal) -> Decimal:
        asset, need = self._requirement(order, inst, price, order.order_type is _LIMIT)
        free = self._free.get(asset, ZERO)
        if free < need:
            raise InsufficientFunds(
                f"{self.name}: {order.symbol} needs {need} {asset}, free {free}", venue=self.name
            )
        if order.order_type is not _MARKET:
            self._move(asset, need, to_locked=True)
            self._reserved[order.client_order_id] = (asset, need)
        return order.quantity

    def _release(self, order: Order) -> None:
        reserved = self._reserved.pop(order.client_order_id, None)
        if reserved is not None:
            self._move(reserved[0], reserved[1], to_locked=False)

    def _fillable(self, order: Order, price: Decimal, is_maker: bool) -> Decimal:
        inst = self._instruments[order.symbol]
        asset, need = self._requirement(order, inst, price, is_maker)
        return order.remaining if self._free.get(asset, ZERO) >= need else ZERO

    def _settle(
        self,
        order: Order,
        inst: Instrument,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        notional: Decimal,
    ) -> None:
        free = self._free  # ``_add`` twice, inline (one execution per fill)
        if order.side is _BUY:
            free[inst.quote] = free.get(inst.quote, ZERO) + -(notional + fee)
            free[inst.base] = free.get(inst.base, ZERO) + qty
        else:
            free[inst.base] = free.get(inst.base, ZERO) + -qty
            free[inst.quote] = free.get(inst.quote, ZERO) + (notional - fee)

    # -------------------------------------------------------------------- internals

    def _requirement(
        self, order: Order, inst: Instrument, price: Decimal, is_maker: bool
    ) -> tuple[str, Decimal]:
        """Return the asset and amount ``order``'s remainder needs at ``price``."""
        qty = order.quantity - order.filled_qty  # ``order.remaining``
        if order.side is _SELL:
            return inst.base, qty
        rate = self._maker_fee if is_maker else self._taker_fee
        factors = self._fee_factors  # ``1 + rate``, computed once per rate (a Decimal)
        if factors[0] is not rate:
            factors = self._fee_factors = (rate, 1 + rate)
        return inst.quote, qty * price * factors[1]

    def _move(self, asset: str, amount: Decimal, *, to_locked: bool) -> None:
        sign = 1 if to_locked else -1
        self._free[asset] = self._free.get(asset, ZERO) - sign * amount
        self._locked[asset] = self._locked.get(asset, ZERO) + sign * amount

    def _add(self, asset: str, amount: Decimal) -> None:
        self._free[asset] = self._free.get(asset, ZERO) + amount

    def _total(self, asset: str) -> Decimal:
        return self._free.get(asset, ZERO) + self._locked.get(asset, ZERO)

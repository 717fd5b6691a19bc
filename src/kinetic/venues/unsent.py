"""Venues that never place an order: the ``dry_run`` and ``validate_only`` modes.

* ``dry_run`` wraps the paper SimExchange (the account the engines size from: the
  configured capital, no private venue call). Every order is journaled by the OMS as
  usual and comes back ``NOT_SENT``: logged with its reason, never sent anywhere.
* ``validate_only`` wraps the real venue client: balances are read from the account (so
  the keys are proven), and every order is sent with the venue's validate/test flag
  (``ValidatesOrders.validate_order``: Binance ``order/test``, Kraken spot
  ``validate=true``). Accepted, it comes back ``VALIDATED``; refused, the client's error
  makes it ``REJECTED`` like any refusal. Nothing executes, so the books stay flat: this
  venue reports no positions, open orders or fills of the account, cancels nothing and
  changes no account setting (leverage, margin mode, dead-man timer); on spot it reports
  only the quote balances, so coins the account holds are not taken over as positions.

Both statuses are final; the engines treat them as an order that did not fill.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from kinetic.clock import Clock
from kinetic.domain import (
    Balance,
    Candle,
    Fill,
    Instrument,
    Order,
    OrderIntent,
    OrderStatus,
    VenuePosition,
)
from kinetic.logging import get_logger
from kinetic.venues.base.errors import OrderNotFound
from kinetic.venues.base.protocols import ValidatesOrders

_REMEMBERED = 1000  # orders kept for lookups by client id (the OMS's refresh)


class UnsentSpotVenue:
    """A ``SpotVenue`` whose orders are never placed (see the module docstring)."""

    def __init__(
        self, inner: Any, mode: str, clock: Clock, cash_assets: frozenset[str] | None = None
    ) -> None:
        if mode not in ("dry_run", "validate_only"):
            raise ValueError(f"mode {mode!r}: expected dry_run or validate_only")
        if mode == "validate_only" and not isinstance(inner, ValidatesOrders):
            raise ValueError(f"{inner.name}: the venue has no validate/test order flag")
        self.inner = inner
        self.mode = mode
        self.name = inner.name
        self.clock = clock
        # validate_only spot: only these balances (the quote) are the engine's; the coins an
        # account holds are not positions of a run that never executes anything
        self.cash_assets = cash_assets
        self.unsent = 0  # orders answered NOT_SENT or VALIDATED by this process
        self._orders: OrderedDict[str, Order] = OrderedDict()
        self._log = get_logger(component="venue", venue=self.name, mode=mode)

    def on_candle(self, candle: Candle) -> None:
        """dry_run: the paper SimExchange follows the market (its prices, nothing to fill)."""
        self.inner.on_candle(candle)

    # ------------------------------------------------------------------ market data
    async def get_server_time_ms(self) -> int:
        return int(await self.inner.get_server_time_ms())

    async def get_instruments(self) -> dict[str, Instrument]:
        return dict(await self.inner.get_instruments())

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        return list(await self.inner.get_klines(symbol, interval, limit, start_ms))

    async def get_ticker_price(self, symbol: str) -> Decimal:
        return Decimal(await self.inner.get_ticker_price(symbol))

    async def get_balances(self) -> dict[str, Balance]:
        balances = dict(await self.inner.get_balances())
        if self.cash_assets is None:
            return balances
        return {a: b for a, b in balances.items() if a in self.cash_assets}

    # ------------------------------------------------------------------ orders
    async def place_order(self, intent: OrderIntent) -> Order:
        """``validate_only``: the venue's test flag first (a refusal raises); never placed."""
        if self.mode == "validate_only":
            await self.inner.validate_order(intent)
            status = OrderStatus.VALIDATED
        else:
            status = OrderStatus.NOT_SENT
        now = self.clock.time_ms()
        order = Order(
            intent.client_order_id, intent.symbol, intent.side, intent.order_type,
            intent.quantity, status, intent.price, intent.stop_price, intent.reduce_only,
            None, created_ms=now, updated_ms=now,
        )  # fmt: skip
        self.unsent += 1
        self._orders[order.client_order_id] = order
        while len(self._orders) > _REMEMBERED:
            self._orders.popitem(last=False)
        self._log.info(
            "order not sent" if status is OrderStatus.NOT_SENT else "order validated, not placed",
            symbol=intent.symbol,
            client_order_id=intent.client_order_id,
            side=intent.side,
            type=intent.order_type,
            qty=str(intent.quantity),
            reason=intent.reason,
        )
        return order

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        raise OrderNotFound(f"{self.name} ({self.mode}): no order of ours rests", venue=self.name)

    async def cancel_all_orders(self, symbol: str) -> list[Order]:
        return []

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        return []

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        return []

    async def close(self) -> None:
        await self.inner.close()


class UnsentFuturesVenue(UnsentSpotVenue):
    """A ``FuturesVenue`` whose orders are never placed; no account setting changes."""

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        return None

    async def set_isolated_margin(self, symbol: str) -> None:
        return None

    async def get_positions(self) -> list[VenuePosition]:
        return []

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        return None

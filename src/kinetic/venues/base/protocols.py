"""The protocols every venue implements: SimExchange and the real clients alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from kinetic.domain import (
    Balance,
    Candle,
    Fill,
    FundingPayment,
    Instrument,
    Order,
    OrderIntent,
    VenuePosition,
)


@runtime_checkable
class SpotVenue(Protocol):
    """A spot venue: balances, instruments, candles and orders."""

    name: str

    async def get_server_time_ms(self) -> int: ...

    async def get_instruments(self) -> dict[str, Instrument]: ...

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        """Return closed candles only, oldest first."""
        ...

    async def get_ticker_price(self, symbol: str) -> Decimal: ...

    async def get_balances(self) -> dict[str, Balance]: ...

    async def place_order(self, intent: OrderIntent) -> Order:
        """Send an order. Raises ``OrderStateUnknown`` when the outcome is unknown."""
        ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order: ...

    async def cancel_all_orders(self, symbol: str) -> list[Order]: ...

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        """Look an order up by client order id; ``None`` if the venue never saw it."""
        ...

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]: ...

    async def close(self) -> None: ...


@runtime_checkable
class FuturesVenue(SpotVenue, Protocol):
    """A USD-margined perpetual futures venue (one-way mode, isolated margin)."""

    async def set_leverage(self, symbol: str, leverage: int) -> None: ...

    async def set_isolated_margin(self, symbol: str) -> None: ...

    async def get_positions(self) -> list[VenuePosition]: ...

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        """Cancel all open orders unless refreshed within ``timeout_seconds`` (0 = off)."""
        ...


@runtime_checkable
class ReportsFunding(Protocol):
    """A futures venue client that lists the funding payments booked to the account."""

    async def get_funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding payments at or after ``since_ms``, oldest first."""
        ...


@runtime_checkable
class CountsFailures(Protocol):
    """A venue client that counts consecutive failed calls (the HTTP clients)."""

    def reset_failures(self) -> None:
        """Forget the count: an engine (re)start begins with a clean slate."""
        ...


@runtime_checkable
class ValidatesOrders(Protocol):
    """A venue client that can have an order checked without placing it (a test flag)."""

    async def validate_order(self, intent: OrderIntent) -> None:
        """Send ``intent`` with the venue's validate/test flag; raise if it is refused."""
        ...

"""Hand-written fake venues for OMS tests: wrap a SimSpotExchange and misbehave on cue.

* ``FlakyVenue`` delegates to a real ``SimSpotExchange`` and injects failures from
  per-call queues (``place_failures``, ``get_order_failures``, ``get_fills_failures``).
  A queued ``"accept_then_unknown"`` places the order on the inner venue and then
  raises ``OrderStateUnknown`` (a timeout after the matching engine accepted it).
* ``JournalSpyVenue`` records what the recorder held for an order at the moment
  ``place_order`` was called.
* ``AutoClock`` is a ``ManualClock`` whose ``sleep`` advances time itself and records
  the delay, so retry back-off runs instantly and can be asserted.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from kinetic.clock import ManualClock
from kinetic.domain import Candle, Fill, MarketType, Order, OrderIntent, OrderStatus
from kinetic.execution.recorder import MemoryRecorder
from kinetic.venues.base.errors import OrderStateUnknown
from kinetic.venues.sim import SimSpotExchange, default_instruments

ACCEPT_THEN_UNKNOWN = "accept_then_unknown"


class AutoClock(ManualClock):
    """A manual clock whose sleeps advance it immediately (and are recorded)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__(start)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))


def make_sim_spot(
    clock: ManualClock, usdt: str = "10000", price: float = 100.0, btc: str = "0"
) -> SimSpotExchange:
    """A spot simulator with BTCUSDT and ETHUSDT priced at ``price``."""
    venue = SimSpotExchange(
        default_instruments(MarketType.SPOT, ["BTCUSDT", "ETHUSDT"]),
        clock,
        {"USDT": Decimal(usdt), "BTC": Decimal(btc)},
        taker_fee=Decimal("0.001"),
        maker_fee=Decimal("0.001"),
    )
    for symbol in ("BTCUSDT", "ETHUSDT"):
        venue.on_candle(flat_candle(symbol, price, clock.time_ms() - 60_000))
    return venue


def flat_candle(symbol: str, price: float, open_ms: int) -> Candle:
    return Candle(symbol, open_ms, open_ms + 59_999, price, price, price, price, 1.0)


class FlakyVenue:
    """Delegate to ``inner``; raise queued exceptions first, and count real calls."""

    def __init__(self, inner: SimSpotExchange) -> None:
        self.inner = inner
        self.place_failures: deque[Any] = deque()
        self.get_order_failures: deque[Exception] = deque()
        self.get_fills_failures: deque[Exception] = deque()
        self.place_calls: list[str] = []  # client ids, one per place_order attempt
        self.accepted: list[str] = []  # client ids the inner venue accepted
        self.get_order_calls: list[str] = []
        self.cancel_calls: list[str] = []

    async def place_order(self, intent: OrderIntent) -> Order:
        self.place_calls.append(intent.client_order_id)
        if self.place_failures:
            failure = self.place_failures.popleft()
            if failure == ACCEPT_THEN_UNKNOWN:
                await self._place_inner(intent)
                raise OrderStateUnknown(
                    "timeout after send", client_order_id=intent.client_order_id, venue="flaky"
                )
            raise failure
        return await self._place_inner(intent)

    async def _place_inner(self, intent: OrderIntent) -> Order:
        order = await self.inner.place_order(intent)
        self.accepted.append(intent.client_order_id)
        return order

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        self.get_order_calls.append(client_order_id)
        if self.get_order_failures:
            raise self.get_order_failures.popleft()
        return await self.inner.get_order(symbol, client_order_id)

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        if self.get_fills_failures:
            raise self.get_fills_failures.popleft()
        return await self.inner.get_fills(symbol, since_ms)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        self.cancel_calls.append(client_order_id)
        return await self.inner.cancel_order(symbol, client_order_id)

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self.inner.get_open_orders(symbol)


class JournalSpyVenue(FlakyVenue):
    """Record the journaled status of each order when the venue first sees it."""

    def __init__(self, inner: SimSpotExchange, recorder: MemoryRecorder) -> None:
        super().__init__(inner)
        self.recorder = recorder
        self.journal_at_send: dict[str, OrderStatus | None] = {}

    async def place_order(self, intent: OrderIntent) -> Order:
        row = self.recorder.orders.get(intent.client_order_id)
        self.journal_at_send[intent.client_order_id] = row[1].status if row else None
        return await super().place_order(intent)

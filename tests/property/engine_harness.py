"""A misbehaving futures venue and a killable journal for the engine state machine.

* ``ChaosVenue`` delegates to a real ``SimFuturesExchange`` and, on cue, fails the next
  calls with ``TransientError`` (an outage), accepts an order and then times out
  (``OrderStateUnknown``), reports an entry's fill in two trades with the second held
  back until ``release()`` (a partial fill), or kills the process (``ProcessKilled``)
  just before or just after an order reaches the matching engine. It records, per client
  id, what the journal held when the order was sent and how often it reached the venue.
* ``KillableRecorder`` is a ``MemoryRecorder`` that can kill the process right after a
  fill is journaled (before the book applies it).

``ProcessKilled`` derives from ``BaseException`` so no ``except Exception`` in the engine
can swallow it: like SIGKILL, it ends the step wherever it is.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import ROUND_DOWN, Decimal
from typing import Any

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
from kinetic.execution.recorder import MemoryRecorder
from kinetic.venues.base import TransientError
from kinetic.venues.base.errors import OrderStateUnknown
from kinetic.venues.sim import SimFuturesExchange


class ProcessKilled(BaseException):
    """The daemon process died here (SIGKILL): nothing after this point ran."""


class KillableRecorder(MemoryRecorder):
    """A memory journal that can kill the process right after storing a fill."""

    kill_after_fill: bool = False

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        stored = await super().record_fill(engine, fill)
        if stored and self.kill_after_fill:
            self.kill_after_fill = False
            raise ProcessKilled("after_fill")
        return stored


class ChaosVenue:
    """A ``FuturesVenue`` over ``inner`` that injects faults and watches what is sent."""

    def __init__(
        self, inner: SimFuturesExchange, recorder: MemoryRecorder, steps: dict[str, Decimal]
    ) -> None:
        self.inner = inner
        self.steps = steps  # step size per symbol: a fill's parts are whole steps
        self.recorder = recorder
        self.outage_calls = 0  # the next N calls raise TransientError
        self.unknown_next_place = False  # accept the next order, then time out
        self.kill_next_place: str | None = None  # "before_send" | "after_send"
        self.split_next_entry = False  # report the next entry fill in two trades
        self.faults = 0  # every injected fault, so a step can tell it ran clean
        self.journal_at_send: dict[str, OrderStatus | None] = {}
        self.reached: Counter[str] = Counter()  # client id -> place_order calls on inner
        self.accepted: dict[str, tuple[OrderIntent, int]] = {}  # with the process generation
        self.generation = 0  # bumped by the test at every kill
        self._reported: set[str] = set()  # trade ids reported at least once
        self._split: set[str] = set()  # trade ids of entry fills reported in two parts
        self._held: set[str] = set()  # trade ids whose second part is held back

    # ------------------------------------------------------------------ faults
    def _gate(self) -> None:
        if self.outage_calls > 0:
            self.outage_calls -= 1
            self.faults += 1
            raise TransientError("injected outage", venue="chaos")

    def holding(self) -> bool:
        """True while part of a split fill is held back."""
        return bool(self._held)

    def release(self) -> None:
        """Report the held-back second parts of split fills from now on."""
        self._held.clear()

    # ------------------------------------------------------------------ orders
    async def place_order(self, intent: OrderIntent) -> Order:
        cid = intent.client_order_id
        row = self.recorder.orders.get(cid)
        self.journal_at_send.setdefault(cid, row[1].status if row else None)
        if self.kill_next_place == "before_send":
            self.kill_next_place = None
            self.faults += 1
            raise ProcessKilled("before_send")
        self._gate()
        self.reached[cid] += 1
        order = await self.inner.place_order(intent)
        self.accepted[cid] = (intent, self.generation)
        if self.kill_next_place == "after_send":
            self.kill_next_place = None
            self.faults += 1
            raise ProcessKilled("after_send")
        if self.unknown_next_place:
            self.unknown_next_place = False
            self.faults += 1
            raise OrderStateUnknown("injected timeout after send", client_order_id=cid)
        return order

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        self._gate()
        return await self.inner.cancel_order(symbol, client_order_id)

    async def cancel_all_orders(self, symbol: str) -> list[Order]:
        self._gate()
        return await self.inner.cancel_all_orders(symbol)

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        self._gate()
        return await self.inner.get_order(symbol, client_order_id)

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        self._gate()
        return await self.inner.get_open_orders(symbol)

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        self._gate()
        out: list[Fill] = []
        for fill in await self.inner.get_fills(symbol, since_ms):
            new = fill.trade_id not in self._reported
            self._reported.add(fill.trade_id)
            if new and self.split_next_entry and not fill.reduce_only:
                self.split_next_entry = False
                self._split.add(fill.trade_id)
                self._held.add(fill.trade_id)
            out.extend(self._parts(fill))
        return out

    def _parts(self, fill: Fill) -> list[Fill]:
        if fill.trade_id not in self._split:
            return [fill]
        step = self.steps[fill.symbol]
        first = (fill.quantity / 2 / step).to_integral_value(ROUND_DOWN) * step
        if first <= 0:
            return [fill]
        parts = [dataclasses.replace(fill, trade_id=fill.trade_id + "a", quantity=first)]
        if fill.trade_id in self._held:
            self.faults += 1
        else:
            rest = fill.quantity - first
            parts.append(dataclasses.replace(fill, trade_id=fill.trade_id + "b", quantity=rest))
        return parts

    # ------------------------------------------------------------------ account
    async def get_balances(self) -> dict[str, Balance]:
        self._gate()
        return await self.inner.get_balances()

    async def get_positions(self) -> list[VenuePosition]:
        self._gate()
        return await self.inner.get_positions()

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        self._gate()
        await self.inner.set_leverage(symbol, leverage)

    async def set_isolated_margin(self, symbol: str) -> None:
        self._gate()
        await self.inner.set_isolated_margin(symbol)

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        self._gate()
        await self.inner.set_dead_man_switch(timeout_seconds)

    # ------------------------------------------------------------------ market data
    async def get_server_time_ms(self) -> int:
        return await self.inner.get_server_time_ms()

    async def get_instruments(self) -> dict[str, Instrument]:
        return await self.inner.get_instruments()

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        return await self.inner.get_klines(symbol, interval, limit, start_ms)

    async def get_ticker_price(self, symbol: str) -> Decimal:
        return await self.inner.get_ticker_price(symbol)

    def on_candle(self, candle: Candle) -> list[Fill]:
        return self.inner.on_candle(candle)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

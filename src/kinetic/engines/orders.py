"""The order path every engine shares: trading-state gate, journal-first sends, closes.

``send`` asks the trading-state gate first: an entry needs ``ACTIVE``, an exit (signal
exit, stop/take-profit close, flatten) ``REDUCE_ONLY`` or better, a protective stop goes
in every state. An order whose journal row cannot be written is never sent and moves the
engine to ``REDUCE_ONLY`` (an operator clears it; the engine only says when writes
recover). ``close_position`` closes without a naked window: the reduce-only close goes
out while the stop rests, the stop goes once the close has filled, and a refused close is
retried with capped backoff (``kinetic.execution.protection.CloseRetries``). The kill
switch's ``cancel_entries`` and the flatten ``close_all_positions`` live here too.

``OrderPath`` is a mixin of ``BaseEngine``; the attributes it declares are the engine's.
"""

from __future__ import annotations

import asyncio
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kinetic.domain import (
    ZERO,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TradingState,
    builder,
)
from kinetic.execution.crashpoints import crash_point
from kinetic.execution.oms import JournalUnwritable
from kinetic.execution.protection import CloseRetries
from kinetic.portfolio.positions import EntryPlan
from kinetic.venues.base import round_quantity
from kinetic.venues.base.errors import VenueError, VenueHalted

if TYPE_CHECKING:
    from kinetic.engines.base import EngineDeps

_NEVER_PLACED = frozenset(s for s in OrderStatus if s.never_placed)
# the states that let entries / exits go (``TradingState.allows_entries`` / ``allows_exits``)
_ENTRIES_OK = frozenset(s for s in TradingState if s.allows_entries)
_EXITS_OK = frozenset(s for s in TradingState if s.allows_exits)
_FINAL = frozenset(s for s in OrderStatus if s.is_terminal)
_MARKET = OrderType.MARKET
_EXIT_SIDE = {s: s.exit_side for s in PositionSide}  # ``PositionSide.exit_side``
# An order whose placement outcome stayed unknown (5xx or timeout, and the lookup by client
# id failed too) is looked up again once it is this old (engine clock), a few per step.
UNKNOWN_SETTLE_S = 2.0
UNKNOWN_LOOKUPS_PER_STEP = 2


class OrderPurpose(enum.StrEnum):
    """Why an order is sent, which decides whether the trading state lets it go."""

    ENTRY = "entry"
    EXIT = "exit"
    PROTECT = "protect"


# module globals: an enum member read from its class takes ``EnumType.__getattr__``'s
# slow attribute hook (about 1 us each on the order path)
_ENTRY, _EXIT, _PROTECT = OrderPurpose.ENTRY, OrderPurpose.EXIT, OrderPurpose.PROTECT
_STOP_MARKET = OrderType.STOP_MARKET
_new_intent = builder(OrderIntent)  # ``OrderIntent(...)``, without a descriptor per field


class OrderPath:
    """Sending, closing and the kill switch, for ``BaseEngine``."""

    name: str
    d: EngineDeps
    log: Any
    closes: CloseRetries
    _journal_down: bool
    _plans: dict[str, EntryPlan]
    _exit_reasons: dict[str, str]
    _step_lock: asyncio.Lock

    async def sync(self, symbol: str, checked: tuple[bool, int | None] | None = None) -> None:
        """Apply the venue's new fills for ``symbol`` (``BaseEngine`` implements it)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ trading state
    def allows(self, purpose: OrderPurpose) -> bool:
        """May an order for ``purpose`` go out in the engine's current trading state?"""
        if purpose is _PROTECT:
            return True  # stops (and the close of a position without one) always go
        state = self.d.gate.state(self.name)
        return state in (_ENTRIES_OK if purpose is _ENTRY else _EXITS_OK)

    async def journal_unwritable(self, cause: str) -> None:
        """A journal write failed: go REDUCE_ONLY (an operator clears it, never the engine)."""
        first = not self._journal_down
        self._journal_down = True
        if first:
            self.log.error("journal unwritable; REDUCE_ONLY, nothing unjournaled is sent",
                           error=cause)  # fmt: skip
        if first or self.d.gate.state(self.name).allows_entries:
            await self.d.gate.escalate(
                self.name, TradingState.REDUCE_ONLY, f"journal unwritable: {cause}", "journal"
            )
        if first:
            await self.event("journal_unwritable", f"journal write failed: {cause}")

    async def _check_journal(self) -> None:
        """Follow the OMS's last journal write: escalate on a failure, say so on recovery."""
        error = self.d.oms.journal_error
        if error is not None:
            await self.journal_unwritable(error)
        elif self._journal_down:
            self._journal_down = False
            note = "journal writes recovered; the trading state stays until an operator clears it"
            self.log.warning(note)
            await self.event("journal_recovered", note)

    async def event(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        """Record an event; a storage failure is logged, never raised (the log keeps it)."""
        try:
            await self.d.recorder.record_event(kind, message, self.name, data)
        except Exception as exc:  # the journal is down: the log line is the record
            self.log.error("event not recorded", kind=kind, note=message, error=repr(exc))

    # ------------------------------------------------------------------ sending
    async def send(
        self,
        symbol: str,
        side: Side,
        qty: Decimal,
        *,
        order_type: OrderType = OrderType.MARKET,
        stop_price: Decimal | None = None,
        reduce_only: bool = False,
        reason: str = "",
        plan: EntryPlan | None = None,
        protective: bool = False,
    ) -> str | None:
        """Round, journal and send one order; return its client id if the venue took it.

        An entry (``plan``) needs ``allows_entries``, an exit ``allows_exits``; a
        reduce-only stop, or an order marked ``protective``, always goes. An order whose
        journal row cannot be written is not sent (the engine goes REDUCE_ONLY).
        """
        d = self.d
        # the purpose and ``allows(purpose)``, spelled out (two calls per order)
        purpose = (
            _ENTRY
            if plan is not None
            else _PROTECT
            if protective or (reduce_only and order_type is _STOP_MARKET)
            else _EXIT
        )
        if purpose is not _PROTECT and d.gate.state(self.name) not in (
            _ENTRIES_OK if purpose is _ENTRY else _EXITS_OK
        ):
            self.log.info("order held by the trading state", symbol=symbol, purpose=purpose,
                          state=d.gate.state(self.name), reason=reason)  # fmt: skip
            return None
        inst = d.instruments[symbol]
        if plan is not None:  # an entry never asks for more than one order may carry
            qty = min(qty, inst.max_qty)
        qty = round_quantity(qty, inst)
        if qty <= ZERO:  # a Decimal zero: no int converted per order
            return None
        oms = d.oms
        cid = oms.next_client_order_id(symbol)
        intent = _new_intent(
            self.name,
            symbol,
            side,
            order_type,
            qty,
            cid,
            None,
            stop_price,
            reduce_only,
            plan.leverage if plan else 1,
            reason,
        )
        if plan is not None:
            self._plans[cid] = plan
        else:
            self._exit_reasons[cid] = reason
        try:
            order = await oms.submit(intent)
        except JournalUnwritable as exc:
            self._plans.pop(cid, None)
            self._exit_reasons.pop(cid, None)
            await self.journal_unwritable(str(exc))
            return None
        if oms.journal_error is not None or self._journal_down:
            await self._check_journal()
        if order.status in _NEVER_PLACED:  # refused, or dry_run / validate_only
            self._plans.pop(cid, None)
            self._exit_reasons.pop(cid, None)
            return None
        if order_type is _MARKET:
            await self.sync(symbol)
        return cid

    async def close_position(self, symbol: str, reason: str) -> None:
        """Close ``symbol``'s position at market, reduce-only, with no naked window.

        The close goes out while the protective stop still rests (a reduce-only close and
        a reduce-only stop cannot together fill beyond the position); the stop is
        cancelled once the close's fill has closed the position (``on_position_closed``).
        A refused close, or one that could not be journaled, keeps the stop and is tried
        again on later monitor steps with backoff (event ``close_failed``); when the stop
        filled first, the refused close is explained by the stop's fill and not retried.
        Needs ``allows_exits``.
        """
        await self._close(symbol, reason, protective=False)

    async def close_unprotected(self, symbol: str, reason: str) -> None:
        """Close a position that could not get a stop: as ``close_position``, in any state."""
        await self._close(symbol, reason, protective=True)

    async def _close(
        self, symbol: str, reason: str, *, protective: bool, checked: bool = False
    ) -> None:
        """``close_position`` / ``close_unprotected``. ``checked``: the caller has just found,
        with nothing awaited since, the position open, the exit allowed, no close in flight
        or backing off, and nothing for ``before_close`` to cancel (spot's close without a
        resting stop): those tests and the hook are not repeated."""
        d = self.d
        if not checked:
            if not self._may_close(symbol, reason, protective):
                return
            await self.before_close(symbol)
        # the stop may have filled already (hit on this very bar): learn its fills first,
        # then close only what is left (a doomed reduce-only close is never sent); the
        # sync is not entered when it would do nothing (``BaseEngine.sync``'s own tests)
        oms = d.oms
        fills = oms.fill_check(symbol)
        if fills[0] or oms.journal_error is not None or self._journal_down:
            await self.sync(symbol, fills)
        pos = d.positions.positions.get(symbol)
        if pos is None:
            return
        try:
            cid = await self.send(
                symbol,
                _EXIT_SIDE[pos.side],
                pos.quantity,
                reduce_only=True,
                reason=reason,
                protective=protective,
            )
        except VenueHalted:
            if not protective:
                raise
            cid = None  # a position without a stop: keep trying, whatever the count says
        if symbol not in self.d.positions.positions:
            self.closes.done(symbol)
        elif cid is not None:
            self.closes.sent(symbol, reason, protective, cid)
            crash_point("before_close_filled")
        else:
            await self._close_failed(symbol, reason, protective)

    def _may_close(self, symbol: str, reason: str, protective: bool) -> bool:
        """``_close``'s tests: the position is open, the exit allowed, no close in flight
        or backing off (a position already gone settles its pending close)."""
        d = self.d
        if symbol not in d.positions.positions:
            self.closes.done(symbol)
            return False
        if not (protective or self.allows(_EXIT)):
            self.log.info("exit held by the trading state", symbol=symbol, reason=reason,
                          state=d.gate.state(self.name))  # fmt: skip
            return False
        return not (
            self._close_in_flight(symbol) or self.closes.backing_off(symbol, d.clock.time())
        )

    def _close_in_flight(self, symbol: str) -> bool:
        pending = self.closes.get(symbol)
        if pending is None or pending.client_order_id is None:
            return False
        order = self.d.oms.order(pending.client_order_id)
        return order is not None and (
            order.status not in _FINAL or self.d.oms.awaiting_fills(symbol)
        )

    async def _close_failed(self, symbol: str, reason: str, protective: bool) -> None:
        # refused: if the stop filled first, the reduce-only close had nothing to reduce
        await self.sync(symbol)
        if symbol not in self.d.positions.positions:
            self.closes.done(symbol)
            return
        pending = self.closes.failed(symbol, reason, protective, self.d.clock.time())
        data = {"symbol": symbol, "reason": reason, "attempts": pending.attempts}
        if self.closes.get(symbol) is None:
            self.log.error("close failed; given up, the stop stays", **data)
            await self.event("close_abandoned", f"{symbol}: close given up after "
                             f"{pending.attempts} tries; the stop stays", data)  # fmt: skip
            return
        wait = pending.next_try_s - self.d.clock.time()
        self.log.warning("close failed; the stop stays, retrying", **data, retry_in_s=wait)
        await self.event(
            "close_failed", f"{symbol}: close failed ({reason}); the stop stays, retry in "
            f"{wait:.0f}s", data,
        )  # fmt: skip

    async def retry_closes(self) -> None:
        """Retry closes that failed, once their backoff is over; settle finished ones."""
        if not self.closes.pending:
            return
        for symbol, pending in self.closes.items():
            if symbol not in self.d.positions.positions:
                self.closes.done(symbol)
                continue
            if pending.client_order_id is not None:
                await self._settle_close(symbol, pending.client_order_id)
                continue
            if self.d.clock.time() < pending.next_try_s:
                continue
            if pending.protective:
                await self.close_unprotected(symbol, pending.reason)
            else:
                await self.close_position(symbol, pending.reason)

    async def resolve_unknown(self) -> None:
        """Learn the outcome of orders whose placement outcome is still unknown.

        Each is looked up by its client id (never sent again): found, it takes the venue's
        status (a fill is then synced into the books); not found, it never reached the
        venue and is final (``OrderManager.refresh``). Bounded per step: an outage piles
        them up, and each step asks again for the oldest.
        """
        open_orders = self.d.oms.open_orders()
        if not open_orders:
            return  # the usual monitor step: nothing in flight
        now_ms = self.d.clock.time_ms()
        unknown = [
            o
            for o in open_orders
            if o.status is OrderStatus.UNKNOWN and now_ms - o.updated_ms >= UNKNOWN_SETTLE_S * 1000
        ]
        for order in sorted(unknown, key=lambda o: o.updated_ms)[:UNKNOWN_LOOKUPS_PER_STEP]:
            try:
                found = await self.d.oms.refresh(order.client_order_id)
            except VenueError as exc:
                self.log.warning("unknown order lookup failed", symbol=order.symbol,
                                 client_order_id=order.client_order_id, error=str(exc))  # fmt: skip
                return
            if found is None:
                continue
            self.log.info("unknown order resolved", symbol=order.symbol,
                          client_order_id=order.client_order_id, status=found.status)  # fmt: skip
            if found.status.is_terminal and found.filled_qty == 0:
                self._plans.pop(found.client_order_id, None)
                self._exit_reasons.pop(found.client_order_id, None)
            else:
                await self.sync(found.symbol)

    async def _settle_close(self, symbol: str, cid: str) -> None:
        """A close in flight: resolve an unknown outcome; a close that ended open failed."""
        order = self.d.oms.order(cid)
        if order is not None and order.status is OrderStatus.UNKNOWN:
            try:
                await self.d.oms.refresh(cid)
            except VenueError as exc:
                self.log.warning("close lookup failed", symbol=symbol, error=str(exc))
                return
        if self._close_in_flight(symbol):
            return
        await self.sync(symbol)
        pending = self.closes.get(symbol)
        if symbol in self.d.positions.positions and pending is not None:
            await self._close_failed(symbol, pending.reason, pending.protective)

    async def before_close(self, symbol: str) -> bool:
        """Hook: cancel protective orders a close cannot coexist with; True if any.

        Futures keeps its stop resting (reduce-only); a spot stop that locks the balance
        being sold must go first.
        """
        return False

    async def close_all_positions(self, reason: str) -> int:
        """Flatten: close every open position at market, reduce-only, protected until filled.

        The operator's flatten and the drawdown breaker call this. Each close keeps the
        position's stop until it fills and is retried with backoff if refused; it needs
        ``allows_exits`` (REDUCE_ONLY or ACTIVE). Returns how many positions were open.
        """
        async with self._step_lock:
            symbols = list(self.d.positions.positions)
            for symbol in symbols:
                await self.close_position(symbol, reason)
            return len(symbols)

    def is_protective(self, order: Order) -> bool:
        """True for an order that protects a position (kept by the kill switch)."""
        return order.order_type not in (OrderType.MARKET, OrderType.LIMIT)

    async def cancel_entries(self) -> int:
        """Cancel resting entry orders and take-profits; keep protective stops (kill switch).

        Covers the orders this engine tracks and those of ours the venue lists as open
        (one read for every symbol). Market orders are in flight, not resting, and are
        left alone. An order the venue cannot cancel now is logged and left for the next
        call. Returns how many orders were cancelled.
        """
        async with self._step_lock:
            oms = self.d.oms
            try:
                for order in await self.d.venue.get_open_orders():
                    if oms.ids.ours(order.client_order_id) and not self.is_protective(order):
                        await oms.adopt(order, "found open by the kill switch")
            except VenueError as exc:
                self.log.warning("open orders not read; cancelling tracked ones", error=str(exc))
            cancelled = 0
            for order in oms.open_orders():
                if self.is_protective(order) or order.order_type is OrderType.MARKET:
                    continue
                try:
                    await oms.cancel(order.client_order_id)
                except VenueError as exc:
                    self.log.warning("cancel failed", client_order_id=order.client_order_id,
                                     error=str(exc))  # fmt: skip
                    continue
                self._plans.pop(order.client_order_id, None)
                cancelled += 1
            if cancelled:
                await self.event("entries_cancelled", f"{cancelled} entry/take-profit "
                                 "orders cancelled; stops kept", {"count": cancelled})  # fmt: skip
            return cancelled

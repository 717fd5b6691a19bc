"""OrderManager: journal first, send once, learn fills, reconcile at start.

* Client order ids carry the installation's instance id, a per-start stamp and a
  sequence (``execution.ids``): no restart, new or restored database, or second daemon
  on the account re-uses one.
* Every order is written to the journal (status PENDING) before it is sent.
* A transient failure is retried with exponential backoff under the same client
  order id; a ``DuplicateOrder`` answer or an unknown outcome is resolved by looking
  the order up by client id — never by sending it again.
* Five consecutive failed venue calls raise ``VenueHalted``: the engine stops and the
  supervisor decides what happens next (seed 000 error handling 5).
* A journal write that fails (whatever the storage raises) is never papered over: an
  order whose row could not be written is not sent (``JournalUnwritable``), a fill whose
  row could not be written is not applied and is fetched again next time, and
  ``journal_error`` says what failed until a later write succeeds.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from decimal import Decimal
from typing import Any, Protocol

from kinetic.clock import Clock
from kinetic.domain import (
    ZERO,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
)
from kinetic.execution.crashpoints import ARMED, crash_point
from kinetic.execution.ids import ClientIds
from kinetic.execution.oms_reconcile import Reconciler
from kinetic.execution.oms_window import RECENT_FINAL as RECENT_FINAL
from kinetic.execution.oms_window import RECENT_REASONS as RECENT_REASONS
from kinetic.execution.recorder import Recorder
from kinetic.logging import get_logger
from kinetic.venues.base import (
    DuplicateOrder,
    OrderStateUnknown,
    PermanentError,
    SpotVenue,
    TransientError,
    VenueHalted,
)
from kinetic.venues.base.errors import RateLimited
from kinetic.venues.base.protocols import CountsFailures

MAX_CONSECUTIVE_FAILURES = 5
# module globals: ``OrderStatus.X`` takes ``EnumType.__getattr__``'s slow hook (~1 us)
_PENDING, _FILLED, _PARTIAL = OrderStatus.PENDING, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED
_UNKNOWN = OrderStatus.UNKNOWN
_FINAL = frozenset(s for s in OrderStatus if s.is_terminal)
_FILLING = (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
SEND_ATTEMPTS = 3
# what a send attempt may raise and ``_send_failed`` handles (anything else propagates)
_SEND_ERRORS = (DuplicateOrder, OrderStateUnknown, PermanentError, TransientError)
_INFO = logging.INFO


class JournalUnwritable(Exception):
    """The order's journal row could not be written, so the order was not sent."""


class OrderObserver(Protocol):
    """Told around every send (metrics: round-trip and candle-to-order latency, rejects).

    Called synchronously; an observer must be quick and must not raise.
    """

    def before_send(self, engine: str, intent: OrderIntent) -> None: ...

    def after_send(self, engine: str, intent: OrderIntent, order: Order) -> None: ...


class OrderManager(Reconciler):
    """Submit orders for one engine and keep the journal in step with the venue."""

    def __init__(self, engine: str, venue: SpotVenue, recorder: Recorder, clock: Clock) -> None:
        self.engine = engine
        self.venue = venue
        self.recorder = recorder
        self.clock = clock
        self.ids = ClientIds(engine)
        # live orders only: not final, or final with fills still to be seen. A step's
        # scans (open_orders, has_open_orders, awaiting_fills) are bounded by what is live
        self._orders: dict[str, Order] = {}
        # the last RECENT_FINAL orders that left it (ordered: the oldest goes in O(1))
        self._final: OrderedDict[str, Order] = OrderedDict()
        self._reasons: dict[str, str] = {}
        self._recent_reasons: OrderedDict[str, str] = OrderedDict()
        self._seen_trades: set[tuple[str, str]] = set()  # (symbol, trade id)
        self._fill_cursor: dict[str, int] = {}
        # what the venue last reported filled per tracked order (its trades may lag)
        self._venue_filled: dict[str, Decimal] = {}
        self._synced_at: dict[str, int | None] = {}  # symbol -> fill_count read in full
        self._counted: tuple[object, Any] = (None, None)  # (venue, its class's fill_count)
        self.consecutive_failures = 0
        self.in_flight = 0
        self.journal_error: str | None = None  # the last journal write failed: why
        self.observer: OrderObserver | None = None  # set by the composition root (metrics)
        self.log = get_logger(engine=engine, component="oms")

    async def start(self) -> None:
        """Begin a new run of client ids; a (re)start also clears the failure count."""
        instance, stamp = await self.recorder.client_id_start(self.engine, self.clock.time())
        self.ids.begin(instance, stamp)
        self.consecutive_failures = 0
        self._synced_at.clear()  # a (re)start reads the fills again
        if isinstance(self.venue, CountsFailures):  # the HTTP client's count too
            self.venue.reset_failures()

    def next_client_order_id(self, symbol: str) -> str:
        return self.ids.next()

    # ------------------------------------------------------------------ submit
    async def submit(self, intent: OrderIntent) -> Order:  # noqa: C901 - the order path, spelled out
        """Journal, send and return the order as the venue knows it.

        One order writes its row three times (PENDING, the venue's answer, a refusal's
        settling) and takes one answer: ``_journal``, ``_merge`` and ``_settle`` are
        spelled out on this path (each a call per order otherwise).
        """
        clock, recorder, engine = self.clock, self.recorder, self.engine
        now = clock.time_ms()
        cid = intent.client_order_id
        order = Order(
            cid, intent.symbol, intent.side, intent.order_type,
            intent.quantity, _PENDING, intent.price, intent.stop_price,
            intent.reduce_only, None, ZERO, ZERO, now, now,
        )  # fmt: skip
        reason = intent.reason
        try:  # ``_journal``: an order whose row is not written is never sent
            await recorder.record_order(engine, order, reason)
            written = True
        except Exception as exc:  # any storage failure: the row is not there
            self._journal_failed(f"order row {cid}", exc)
            written = False
        if not written:
            raise JournalUnwritable(f"order {cid}: {self.journal_error}")
        self.journal_error = None
        self._orders[cid] = order
        self._reasons[cid] = reason
        if ARMED:
            crash_point("before_send")
        self.in_flight += 1
        if self.observer is not None:
            self.observer.before_send(engine, intent)
        try:
            placed: Order | None
            try:  # the first attempt, here (a coroutine per order otherwise); then _send_failed
                placed = await self.venue.place_order(intent)
            except _SEND_ERRORS as exc:
                placed = await self._send_failed(intent, exc)
            else:
                self.consecutive_failures = 0
                if self.log.enabled(_INFO):  # one per order: skip building the line
                    self._log_placed(intent, placed)
            if ARMED:
                crash_point("after_send")
        except VenueHalted:  # its outcome is unknown: never left PENDING
            self._merge(order, None)
            await self._journal(order, reason)
            raise
        finally:
            self.in_flight -= 1
        if placed is None:
            self._merge(order, None)
        else:  # ``_merge(order, placed)``
            order.status = placed.status
            order.venue_order_id = placed.venue_order_id
            if placed.price is not None:
                order.price = placed.price
            filled = placed.filled_qty
            if filled > ZERO:  # ``_venue_reports(order, placed)``
                venue_filled = self._venue_filled
                known = venue_filled.get(cid)
                venue_filled[cid] = filled if known is None or filled > known else known
            order.updated_ms = clock.time_ms()
        if self.observer is not None:
            self.observer.after_send(engine, intent, order)
        # sent and journaled PENDING: a failed update leaves the lookup by client id to
        # a later reconcile, and the engine sees journal_error
        try:  # ``_journal``
            await recorder.record_order(engine, order, reason)
        except Exception as exc:
            self._journal_failed(f"order row {cid}", exc)
        else:
            self.journal_error = None
        status = order.status
        # refused / done at once: final once journaled (``_settle``; a fill still to be
        # seen keeps it, as ``_awaiting`` says at once for a FILLED order not yet synced)
        if status in _FINAL and not (status in _FILLING and order.filled_qty < order.quantity):
            self._settle(order)
        return order

    async def _journal(self, order: Order, reason: str) -> bool:
        """Write ``order``'s row; False (and ``journal_error`` set) if storage refused."""
        try:
            await self.recorder.record_order(self.engine, order, reason)
        except Exception as exc:  # any storage failure: the row is not there
            self._journal_failed(f"order row {order.client_order_id}", exc)
            return False
        self.journal_error = None
        return True

    def _journal_failed(self, what: str, exc: Exception) -> None:
        self.journal_error = f"{what}: {exc!r}"[:300]
        self.log.error("journal write failed", what=what, error=repr(exc))

    async def _send_failed(self, intent: OrderIntent, exc: Exception) -> Order | None:
        """The send, once ``submit``'s first attempt raised ``exc`` (one of ``_SEND_ERRORS``).

        A duplicate or an unknown outcome is looked up by client id, a permanent error is a
        refusal, a transient one is retried with backoff (``SEND_ATTEMPTS`` in all), then
        looked up.
        """
        log = self.log
        attempt = 0
        while True:
            if isinstance(exc, DuplicateOrder | OrderStateUnknown):
                log.warning(
                    "order outcome unknown; looking it up by client id",
                    **_ids(intent),
                    error=str(exc),
                )
                return await self._lookup(intent)
            if isinstance(exc, PermanentError):
                self._ok()
                log.warning("order rejected", **_ids(intent), error=str(exc))
                return _rejected(intent, str(exc))
            # a TransientError: retried after a pause
            await self._failed(exc)
            delay = exc.retry_after if isinstance(exc, RateLimited) else 0.5 * 2**attempt
            log.warning(
                "transient venue error; retrying",
                **_ids(intent),
                error=str(exc),
                attempt=attempt + 1,
            )
            await self.clock.sleep(delay)
            attempt += 1
            if attempt >= SEND_ATTEMPTS:
                return await self._lookup(intent)
            try:
                placed = await self.venue.place_order(intent)
            except _SEND_ERRORS as again:
                exc = again
                continue
            self.consecutive_failures = 0
            if log.enabled(_INFO):
                self._log_placed(intent, placed)
            return placed

    def _log_placed(self, intent: OrderIntent, placed: Order) -> None:
        self.log.info(
            "order placed",
            **_ids(intent),
            side=intent.side,
            type=intent.order_type,
            qty=str(intent.quantity),
            status=placed.status,
            reason=intent.reason,
        )

    async def _lookup(self, intent: OrderIntent) -> Order | None:
        try:
            found = await self.venue.get_order(intent.symbol, intent.client_order_id)
        except TransientError as exc:
            await self._failed(exc)
            return None
        self._ok()
        return found

    def _ok(self) -> None:
        self.consecutive_failures = 0

    async def _failed(self, exc: Exception) -> None:
        self.consecutive_failures += 1
        if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            await self.recorder.record_event(
                "venue_halt",
                f"{self.consecutive_failures} consecutive venue failures: {exc}",
                self.engine,
            )
            raise VenueHalted(
                f"{self.engine}: {self.consecutive_failures} consecutive venue failures"
            )

    def _merge(self, order: Order, placed: Order | None) -> None:
        if placed is None:
            order.status = _UNKNOWN
        else:
            order.status = placed.status
            order.venue_order_id = placed.venue_order_id
            if placed.price is not None:
                order.price = placed.price
            if placed.filled_qty > ZERO:  # ``_venue_reports(order, placed)``
                cid, venue_filled = order.client_order_id, self._venue_filled
                venue_filled[cid] = max(venue_filled.get(cid, ZERO), placed.filled_qty)
        order.updated_ms = self.clock.time_ms()

    # ------------------------------------------------------------------ cancel
    async def cancel(self, client_order_id: str) -> None:
        order = self._orders.get(client_order_id)
        if order is None or order.status.is_terminal:
            return
        try:
            updated = await self.venue.cancel_order(order.symbol, client_order_id)
            order.status = updated.status
        except PermanentError as exc:
            self.log.info(
                "cancel refused; order already final",
                client_order_id=client_order_id,
                error=str(exc),
            )
            found = await self.venue.get_order(order.symbol, client_order_id)
            order.status = found.status if found else OrderStatus.CANCELED
        order.updated_ms = self.clock.time_ms()
        await self._journal(order, self.reason(client_order_id))
        self._settle(order)

    async def refresh(self, client_order_id: str) -> Order | None:
        """Look an order up on the venue by client id and take its status.

        For an order the venue no longer lists as open (cancelled by hand or by the
        venue, expired) or whose outcome was unknown; ``None`` if we do not track it.
        """
        order = self.order(client_order_id)
        if order is None:
            return None
        found = await self.venue.get_order(order.symbol, client_order_id)
        if found is None:  # never reached the venue
            order.status = OrderStatus.REJECTED if order.filled_qty == 0 else order.status
        else:
            order.status = found.status
            order.venue_order_id = found.venue_order_id or order.venue_order_id
            self._venue_reports(order, found)
        order.updated_ms = self.clock.time_ms()
        await self._journal(order, self.reason(client_order_id))
        if not order.status.is_terminal and self._final.pop(client_order_id, None) is not None:
            self._orders[client_order_id] = order  # the venue says it still lives
        self._settle(order)
        return order

    async def adopt(self, order: Order, reason: str) -> None:
        """Track an order of ours found resting on the venue (and journal it).

        An order already tracked (an outcome that was unknown) takes the venue's status.
        """
        known = self._orders.get(order.client_order_id)
        if known is not None:
            if known.status is not order.status:
                known.status = order.status
                known.venue_order_id = order.venue_order_id or known.venue_order_id
                await self._journal(known, self.reason(order.client_order_id))
                self._settle(known)
            return
        self._orders[order.client_order_id] = order
        self._reasons[order.client_order_id] = reason
        await self._journal(order, reason)
        self._settle(order)

    # ------------------------------------------------------------------ fills
    async def sync_fills(  # noqa: C901 - the fill path, spelled out
        self, symbol: str, checked: tuple[bool, int | None] | None = None
    ) -> list[Fill]:
        """Fetch fills the venue has for ``symbol`` that we have not seen; journal them.

        Read from the cursor (the latest fill seen), or from the creation of an order
        still awaiting fills: a trade the venue lists late keeps its own time, which may
        be older than fills seen since. ``checked``: ``fill_check``'s answer, given just now.
        The read's start, the fill's order update, its journal row and its reason are
        spelled out here (a call each per fill otherwise).
        """
        if checked is None or not checked[0]:  # else fill_check said yes: not asked again
            checked = self.fill_check(symbol)
            if not checked[0]:
                return []
        count = checked[1]
        orders, cursor = self._orders, self._fill_cursor
        since = cursor.get(symbol, 0)  # the read starts here, or at an awaited order's creation
        for live in orders.values():
            if live.symbol == symbol and live.created_ms < since and self._awaiting(live):
                since = live.created_ms
        try:
            fills = await self.venue.get_fills(symbol, since)
        except TransientError as exc:
            await self._failed(exc)
            return []
        self.consecutive_failures = 0  # ``_ok()``
        new: list[Fill] = []
        seen, recorder, engine = self._seen_trades, self.recorder, self.engine
        for fill in fills:
            key = (fill.symbol, fill.trade_id)
            if key in seen:
                continue
            try:
                stored = await recorder.record_fill(engine, fill)
            except Exception as exc:  # not journaled: not applied; fetched again next time
                self._journal_failed(f"fill row {fill.symbol} {fill.trade_id}", exc)
                break
            self.journal_error = None
            if ARMED:
                crash_point("after_fill")
            seen.add(key)
            ts = fill.ts_ms
            latest = cursor.get(symbol)  # the cursor is ``max(cursor.get(symbol, 0), ts)``
            if latest is None:
                cursor[symbol] = max(0, ts)
            elif ts > latest:
                cursor[symbol] = ts
            # the journal is the memory that survives restarts: a fill it already holds
            # was applied by an earlier run and must not be applied again
            if not stored:
                continue
            new.append(fill)
            cid = fill.client_order_id
            order = orders.get(cid)  # the fill's order: its quantity, average price and status
            if order is None:
                continue
            done, qty = order.filled_qty, fill.quantity
            total = done + qty
            if done:
                order.avg_price = (order.avg_price * done + fill.price * qty) / total
            else:  # the first fill: its price is the average
                order.avg_price = fill.price
            order.filled_qty = total
            order.status = _FILLED if total >= order.quantity else _PARTIAL
            order.updated_ms = ts
            # not settled here: the engine applies this sync's fills after it returns and
            # looks the order up meanwhile; ``_prune`` settles it
            reason = self._reasons.get(cid) or self._recent_reasons.get(cid, "")
            try:  # ``_journal``
                await recorder.record_order(engine, order, reason)
            except Exception as exc:
                self._journal_failed(f"order row {cid}", exc)
            else:
                self.journal_error = None
        else:  # every fill read (none left unjournaled): nothing new until the count moves
            self._synced_at[symbol] = count  # None (no count): never matches one
        self._prune(symbol)
        return new

    def may_have_fills(self, symbol: str) -> bool:
        """False when ``sync_fills(symbol)`` would return nothing and change nothing."""
        return self.fill_check(symbol)[0]

    def fill_check(self, symbol: str) -> tuple[bool, int | None]:
        """``(may_have_fills, the venue's fill count)``, for ``sync_fills(symbol, checked)``.

        The count: a simulator's ``fill_count``, looked up on the venue's class (a wrapper
        delegating by ``__getattr__`` may serve fills its own way: no count, always read).
        False when a sync now certainly finds and changes nothing: the venue's fill list is
        unchanged since a sync read all of it (same count); no order of ``symbol`` awaits
        fills, so the read would start at the cursor, which only moves forward: every fill
        it returns was seen (``_seen_trades`` has them: clearing it clears these counts);
        ``_prune`` finds no final order to forget; the failure count is 0 already."""
        venue, counted = self.venue, self._counted
        if venue is not counted[0]:
            counted = self._counted = (venue, getattr(type(venue), "fill_count", None))
        if counted[1] is None:
            return True, None
        count = counted[1](venue, symbol)
        if count is None or self._synced_at.get(symbol) != count or self.consecutive_failures:
            return True, count
        for order in self._orders.values():
            if order.symbol == symbol and (order.status in _FINAL or self._awaiting(order)):
                return True, count
        return False, count


def _ids(intent: OrderIntent) -> dict[str, str]:
    return {"symbol": intent.symbol, "client_order_id": intent.client_order_id}


def _rejected(intent: OrderIntent, reason: str) -> Order:
    return Order(
        intent.client_order_id, intent.symbol, intent.side, intent.order_type, intent.quantity,
        OrderStatus.REJECTED, intent.price, intent.stop_price, intent.reduce_only,
    )  # fmt: skip

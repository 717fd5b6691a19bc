"""BaseEngine: the async shell shared by the Spot and Futures engines.

An engine runs two loops as named tasks in a TaskGroup: the scan loop feeds every new
closed candle to the strategy and acts on the latest signal; the monitor loop checks
open positions against new candles, syncs fills from the venue and snapshots equity.
Both send heartbeats. An exception in either loop ends ``run()`` with that exception;
the Orchestrator logs it and decides about a restart.

Every order goes through ``send``, which asks the trading-state gate first: entries
need ``ACTIVE``, exits (signal exits, stop/take-profit closes, flatten) need
``REDUCE_ONLY`` or better, protective stops always go. An order whose journal row cannot
be written is never sent and puts the engine in ``REDUCE_ONLY``. ``close_position``
closes with no naked window: the close is sent while the stop rests and a refused close
is retried with backoff (``kinetic.execution.protection``). The protection step
(``protect``, futures) runs at the end of every monitor step and alone in
``protect_once``, which the supervisor calls for a HALTED engine whose loops stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from config import UnifiedConfig
from kinetic.clock import Clock
from kinetic.domain import (
    ZERO,
    Candle,
    CapitalAllocation,
    EngineSnapshot,
    EngineStatus,
    EquitySnapshot,
    Fill,
    Instrument,
    MarketType,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Signal,
    TradingState,
    VenuePosition,
)
from kinetic.engines.drift_check import DriftChecker
from kinetic.execution.oms import JournalUnwritable, OrderManager
from kinetic.execution.protection import CloseRetries
from kinetic.execution.recorder import Recorder
from kinetic.execution.takeover import Takeover
from kinetic.logging import get_logger
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import EntryPlan, PositionManager
from kinetic.risk.manager import RiskManager
from kinetic.strategy.base import Strategy
from kinetic.venues.base import SpotVenue, round_quantity
from kinetic.venues.base.errors import StaleDataError, VenueError, VenueHalted

CENT = Decimal("0.01")

PENDING_RECHECK_S = 1.0  # monitor wait while a stop or a close is pending

EntrySizer = Callable[[str, Decimal, int], Decimal]
"""``(symbol, margin, leverage) -> quantity``: size an entry at the expected fill price."""


class StateGate(Protocol):
    """The trading-state authority an engine asks before sending (supervisor implements it)."""

    def state(self, engine: str) -> TradingState:
        """The engine's effective state: the stricter of its own and the daemon's."""
        ...

    async def escalate(self, engine: str, state: TradingState, cause: str, source: str) -> None:
        """Move ``engine`` to a stricter ``state`` (never a laxer one) and record why."""
        ...


class AlwaysActive:
    """A gate that is always ACTIVE and records escalations (tests, backtests)."""

    def __init__(self) -> None:
        self.current: dict[str, TradingState] = {}
        self.causes: list[tuple[str, TradingState, str, str]] = []

    def state(self, engine: str) -> TradingState:
        return self.current.get(engine, TradingState.ACTIVE)

    async def escalate(self, engine: str, state: TradingState, cause: str, source: str) -> None:
        self.current[engine] = self.state(engine).worst(state)
        self.causes.append((engine, state, cause, source))


@dataclass
class EngineDeps:
    """Everything an engine needs, built by the composition root."""

    config: UnifiedConfig
    venue: SpotVenue
    strategy: Strategy
    store: CandleStore
    oms: OrderManager
    positions: PositionManager
    risk: RiskManager
    recorder: Recorder
    clock: Clock
    instruments: dict[str, Instrument]
    symbols: list[str]
    allocation: Callable[[], CapitalAllocation]
    heartbeat: Callable[[str], None] = lambda _name: None
    sizer: EntrySizer | None = None  # None: margin x leverage / signal close (live)
    gate: StateGate = field(default_factory=AlwaysActive)
    extra: dict[str, Any] = field(default_factory=dict)


class BaseEngine(ABC):
    """Scan + monitor loops around one strategy, risk manager and position manager."""

    market: MarketType

    def __init__(self, name: str, deps: EngineDeps, scan_interval_s: float) -> None:
        self.name = name
        self.d = deps
        self.scan_interval_s = scan_interval_s
        self.monitor_interval_s = max(scan_interval_s / 2.0, 1.0)
        self.status = EngineStatus.STOPPED
        self._stop = asyncio.Event()
        # scan and monitor steps never interleave: one engine changes its positions and
        # orders from one step at a time (no double exits, journal writes in order)
        self._step_lock = asyncio.Lock()
        # set by private order/fill pushes: run the loops now instead of at the interval
        self._nudge = asyncio.Event()
        self._scan_cursor: dict[str, int] = {}
        self._monitor_cursor: dict[str, int] = {}
        self._plans: dict[str, EntryPlan] = {}
        self._exit_reasons: dict[str, str] = {}
        self.closes = CloseRetries()  # closes not yet filled: in flight or to retry
        self._journal_down = False
        self._last_signal: dict[str, Signal] = {}
        self._price_cache: dict[str, tuple[Candle, Decimal]] = {}
        self._next_snapshot_s = 0.0
        self._started_once = False
        self.candles_seen = 0
        self.drift: DriftChecker | None = None  # set by the daemon; backtests run without
        self.log = get_logger(engine=name)

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Run until ``request_stop``; raise if a loop crashes."""
        self._stop = asyncio.Event()
        self.d.risk.entries_allowed = True
        self.status = EngineStatus.RUNNING
        await self.startup()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(
                    self._loop(self.scan_once, lambda: self.scan_interval_s),
                    name=f"{self.name}:scan",
                )
                tg.create_task(
                    self._loop(self.monitor_once, self.monitor_interval),
                    name=f"{self.name}:monitor",
                )
        finally:
            self.status = EngineStatus.STOPPED

    @property
    def ready(self) -> bool:
        """True once a start-up (reconciliation, cash from the venue) has completed."""
        return self._started_once

    async def startup(self) -> None:
        """Take over from the venue on every start: the first and each supervisor restart.

        A new run of client ids and clean failure counts (OMS and HTTP client), then the
        start-up takeover (``kinetic.execution.takeover``): orders, missed fills and
        positions brought in line with the venue, orphans cancelled, levels set for
        positions without them. Live: cash from the venue. Raises ``TakeoverRefused``
        when the venue holds what the journal cannot explain (nothing is changed then).
        """
        self.send_heartbeat()
        await self.d.oms.start()
        await self.reconcile_positions()
        if self.d.extra.get("cash_from_venue"):
            await self.sync_cash()
        self._started_once = True  # only once all of it succeeded: a failed start retries

    async def reconcile_positions(self) -> None:
        """Run the start-up takeover (every start; see ``startup``)."""
        first = not self._started_once
        takeover = Takeover(
            self.name,
            self.market,
            self.d.config,
            self.d.venue,
            self.d.oms,
            self.d.positions,
            self.d.recorder,
            self.d.instruments,
            self.d.store,
            self,
        )
        # realized PnL from the journal only where the account outlives the process
        # (live); replay and paper start a fresh simulation every run
        await takeover.run(
            first_start=first, restore_realized=first and bool(self.d.extra.get("cash_from_venue"))
        )

    async def sync_cash(self) -> None:
        """Live: take cash from the venue account, not from the configured allocation.

        After a restart the account is the truth (fills, fees and funding while the
        daemon was down); spot cash is the quote balance, futures cash the wallet.
        """
        balance = (await self.d.venue.get_balances()).get(self.d.positions.quote)
        if balance is None:
            return
        before, self.d.positions.cash = self.d.positions.cash, balance.total
        self.log.info("cash taken from the venue", cash=str(balance.total), was=str(before))

    async def venue_positions(self) -> dict[str, VenuePosition]:
        """What the venue account holds per symbol (spot: base-asset balances).

        Spot balances carry no entry price (``entry_price`` 0); dust below the
        instrument's minimum order size is no position. The quote asset is cash.
        """
        balances = await self.d.venue.get_balances()
        held: dict[str, VenuePosition] = {}
        for symbol, inst in self.d.instruments.items():
            balance = balances.get(inst.base)
            if balance is None or inst.base == self.d.positions.quote:
                continue
            qty = balance.total
            if round_quantity(qty, inst) < max(inst.min_qty, inst.step_size):
                continue
            held[symbol] = VenuePosition(symbol, PositionSide.LONG, qty, ZERO, 1, ZERO, ZERO, ZERO)
        return held

    def request_stop(self) -> None:
        """Stop new entries now; loops finish their current step and exit."""
        self.d.risk.entries_allowed = False
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def send_heartbeat(self) -> None:
        self.d.heartbeat(self.name)

    async def _loop(self, step: Callable[[], Any], interval_s: Callable[[], float]) -> None:
        while not self._stop.is_set():
            self.send_heartbeat()
            async with self._step_lock:
                await step()
            await self._sleep_or_stop(interval_s())

    def monitor_interval(self) -> float:
        """The monitor loop's wait: at most ``PENDING_RECHECK_S`` while protection waits."""
        if self.protection_pending():
            return min(self.monitor_interval_s, PENDING_RECHECK_S)
        return self.monitor_interval_s

    def protection_pending(self) -> bool:
        """True while a close waits to fill or be retried (futures: or a stop is missing)."""
        return self.closes.pending

    def nudge(self) -> None:
        """Wake the loops early (a venue pushed an order or fill update)."""
        self._nudge.set()

    async def _sleep_or_stop(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.d.clock.sleep(seconds))
        stopper = asyncio.ensure_future(self._stop.wait())
        nudged = asyncio.ensure_future(self._nudge.wait())
        waits = [sleeper, stopper, nudged]  # all three are cancelled and awaited below
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._nudge.clear()
            for t in waits:
                t.cancel()
            for t in waits:
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    # ------------------------------------------------------------------ scan
    async def scan_once(self) -> None:
        """Feed new closed candles to the strategy; act on each symbol's latest signal."""
        for symbol in self.d.symbols:
            candles = self.d.store.since(symbol, self._scan_cursor.get(symbol, -1))
            if not candles:
                continue
            signal: Signal | None = None
            for candle in candles:
                signal = self.d.strategy.on_candle(candle)
                self.candles_seen += 1
            self._scan_cursor[symbol] = candles[-1].open_time_ms
            if signal is None or self.stopping:
                continue
            self._last_signal[symbol] = signal
            await self.on_signal(signal, candles[-1])

    @abstractmethod
    async def on_signal(self, signal: Signal, candle: Candle) -> None:
        """Decide entries and signal-driven exits for one symbol."""

    # ------------------------------------------------------------------ monitor
    async def monitor_once(self) -> None:
        """Check positions against new candles, sync fills, snapshot equity."""
        for symbol in self.d.symbols:
            candles = self.d.store.since(symbol, self._monitor_cursor.get(symbol, -1))
            if candles:
                self._monitor_cursor[symbol] = candles[-1].open_time_ms
            if (
                symbol in self.d.positions.positions
                or self.d.oms.open_orders(symbol)
                or self.d.oms.awaiting_fills(symbol)
            ):
                await self.sync(symbol)
            for candle in candles:
                pos = self.d.positions.positions.get(symbol)
                if pos is None:
                    break
                if candle.close_time_ms <= pos.opened_ms:
                    continue  # closed before the entry: its range says nothing about exits
                await self.check_exits(pos, candle)
        await self.protect()
        await self.retry_closes()
        if self.drift is not None:
            await self.drift.maybe_check(self)
        await self.maybe_snapshot()

    @abstractmethod
    async def check_exits(self, position: Position, candle: Candle) -> None:
        """Close or protect ``position`` given one new closed candle."""

    async def protect(self) -> None:
        """Hook: the protection step (futures: every position has its resting stop)."""

    async def protect_once(self) -> None:
        """Run only the protection step: learn fills, check stops, retry protective closes.

        The supervisor calls this for a HALTED engine whose loops have stopped, so its
        positions stay watched. Allowed in every trading state: it sends protective
        stops, and a market close only for a position that could not get one.
        """
        async with self._step_lock:
            for symbol in list(self.d.positions.positions):
                await self.sync(symbol)
            await self.protect()
            await self.retry_closes()

    async def sync(self, symbol: str) -> None:
        """Apply fills the venue has for ``symbol`` that we have not seen yet."""
        fills = await self.d.oms.sync_fills(symbol)
        for fill in fills:
            await self.apply_fill(fill)
        await self._check_journal()

    async def apply_fill(self, fill: Fill) -> None:
        cid = fill.client_order_id
        plan = self._plans.pop(cid, None)
        reason = self._exit_reasons.get(cid) or self.d.oms.reason(cid) or "exit"
        trade = self.d.positions.apply_fill(fill, plan, reason=reason)
        if trade is None:
            pos = self.d.positions.positions.get(fill.symbol)
            if pos is not None:
                await self.d.recorder.record_position(self.name, pos)
                if plan is not None:
                    await self.on_position_opened(pos)
                elif fill.side is pos.side.entry_side:
                    await self.on_position_increased(pos)
            return
        self._exit_reasons.pop(cid, None)
        self.closes.done(fill.symbol)
        await self.d.recorder.record_trade(trade)
        await self.d.recorder.delete_position(self.name, fill.symbol)
        if self.log.enabled(logging.INFO):
            self.log.info(
                "position closed",
                symbol=trade.symbol,
                pnl=str(trade.pnl.quantize(CENT)),
                reason=trade.exit_reason,
            )
        await self.on_position_closed(trade.symbol, trade.pnl)

    async def on_position_opened(self, position: Position) -> None:
        """Hook: protect a new position (futures places an exchange-side stop)."""

    async def on_position_increased(self, position: Position) -> None:
        """Hook: a later fill of an entry grew the position (futures resizes its stop)."""

    async def on_position_closed(self, symbol: str, pnl: Decimal) -> None:
        """Hook: react to a closed round trip (futures blacklists after a loss)."""

    # ------------------------------------------------------------------ orders
    def price(self, symbol: str) -> Decimal | None:
        candle = self.d.store.last(symbol)
        return None if candle is None else self.close_price(candle)

    def close_price(self, candle: Candle) -> Decimal:
        """``candle``'s close as the Decimal it prints as (cached for the last candle)."""
        cached = self._price_cache.get(candle.symbol)
        if cached is not None and cached[0] is candle:  # the same candle: same Decimal
            return cached[1]
        price = Decimal(str(candle.close))
        self._price_cache[candle.symbol] = (candle, price)
        return price

    def entry_quantity(
        self, symbol: str, margin: Decimal, price: Decimal, leverage: int = 1
    ) -> Decimal:
        """Return the unrounded entry quantity for ``margin`` at the signal ``price``.

        Live engines size at the signal close; a backtest may inject a sizer that sizes
        at the fill price it will get (close or next open) with room for the fee.
        """
        if self.d.sizer is not None:
            return self.d.sizer(symbol, margin, leverage)
        return margin * leverage / price

    def prices(self) -> dict[str, Decimal]:
        return {s: p for s in self.d.symbols if (p := self.price(s)) is not None}

    def fresh(self, symbol: str) -> bool:
        """False (and logged) when the symbol's data is stale: open nothing on it."""
        try:
            self.d.store.require_fresh(
                symbol, self.d.clock.time_ms(), self.d.config.stale_tolerance_seconds
            )
        except StaleDataError as exc:
            self.log.warning("stale market data; no entries", symbol=symbol, error=str(exc))
            return False
        return True

    # ------------------------------------------------------------------ trading state
    def allows(self, purpose: OrderPurpose) -> bool:
        """May an order for ``purpose`` go out in the engine's current trading state?"""
        if purpose is OrderPurpose.PROTECT:
            return True  # stops (and the close of a position without one) always go
        state = self.d.gate.state(self.name)
        return state.allows_entries if purpose is OrderPurpose.ENTRY else state.allows_exits

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
        purpose = _purpose(order_type, reduce_only, plan, protective)
        if not self.allows(purpose):
            self.log.info("order held by the trading state", symbol=symbol, purpose=purpose,
                          state=self.d.gate.state(self.name), reason=reason)  # fmt: skip
            return None
        qty = round_quantity(qty, self.d.instruments[symbol])
        if qty <= 0:
            return None
        cid = self.d.oms.next_client_order_id(symbol)
        intent = OrderIntent(
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
            order = await self.d.oms.submit(intent)
        except JournalUnwritable as exc:
            self._plans.pop(cid, None)
            self._exit_reasons.pop(cid, None)
            await self.journal_unwritable(str(exc))
            return None
        await self._check_journal()
        if order.status is OrderStatus.REJECTED:
            self._plans.pop(cid, None)
            self._exit_reasons.pop(cid, None)
            return None
        if order_type is OrderType.MARKET:
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

    async def _close(self, symbol: str, reason: str, *, protective: bool) -> None:
        if symbol not in self.d.positions.positions:
            self.closes.done(symbol)
            return
        if not (protective or self.allows(OrderPurpose.EXIT)):
            self.log.info("exit held by the trading state", symbol=symbol, reason=reason,
                          state=self.d.gate.state(self.name))  # fmt: skip
            return
        if self._close_in_flight(symbol) or self.closes.backing_off(symbol, self.d.clock.time()):
            return
        await self.before_close(symbol)
        # the stop may have filled already (hit on this very bar): learn its fills first,
        # then close only what is left (a doomed reduce-only close is never sent)
        await self.sync(symbol)
        pos = self.d.positions.positions.get(symbol)
        if pos is None:
            return
        try:
            cid = await self.send(
                symbol,
                pos.side.exit_side,
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
        else:
            await self._close_failed(symbol, reason, protective)

    def _close_in_flight(self, symbol: str) -> bool:
        pending = self.closes.get(symbol)
        if pending is None or pending.client_order_id is None:
            return False
        order = self.d.oms.order(pending.client_order_id)
        return order is not None and (
            not order.status.is_terminal or self.d.oms.awaiting_fills(symbol)
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

    # ------------------------------------------------------------------ reporting
    def equity(self) -> Decimal:
        return self.d.positions.equity(self.prices())

    def exposure(self) -> Decimal:
        return self.d.positions.exposure(self.prices())

    async def maybe_snapshot(self, force: bool = False) -> None:
        now = self.d.clock.time()
        if not force and now < self._next_snapshot_s:
            return
        self._next_snapshot_s = now + self.d.config.equity_snapshot_interval_seconds
        prices = self.prices()
        pm = self.d.positions
        await self.d.recorder.record_equity(
            EquitySnapshot(
                self.name,
                self.d.clock.time_ms(),
                pm.equity(prices),
                pm.cash,
                pm.realized_pnl,
                pm.unrealized(prices),
                pm.exposure(prices),
            )
        )

    def snapshot(
        self, last_heartbeat: float | None = None, restart_count: int = 0
    ) -> EngineSnapshot:
        prices = self.prices()
        pm = self.d.positions
        return EngineSnapshot(
            self.name,
            self.status,
            pm.equity(prices),
            pm.realized_pnl,
            pm.unrealized(prices),
            len(pm.positions),
            pm.fill_count,
            last_heartbeat,
            restart_count,
        )

    def available_margin(self, alloc: CapitalAllocation | None = None) -> Decimal:
        """Margin free for a new entry: the allocation's room, capped by free cash."""
        alloc = alloc or self.d.allocation()
        return max(ZERO, min(alloc.available_usd, self.d.positions.available(self.prices())))


class OrderPurpose(enum.StrEnum):
    """Why an order is sent, which decides whether the trading state lets it go."""

    ENTRY = "entry"
    EXIT = "exit"
    PROTECT = "protect"


def _purpose(
    order_type: OrderType, reduce_only: bool, plan: EntryPlan | None, protective: bool
) -> OrderPurpose:
    if plan is not None:
        return OrderPurpose.ENTRY
    if protective or (reduce_only and order_type is OrderType.STOP_MARKET):
        return OrderPurpose.PROTECT
    return OrderPurpose.EXIT

"""BaseEngine: the async shell shared by the Spot and Futures engines.

An engine runs two loops as named tasks in a TaskGroup: the scan loop feeds every new
closed candle to the strategy and acts on the latest signal; the monitor loop checks
open positions against new candles, syncs fills from the venue and snapshots equity.
Both send heartbeats. An exception in either loop ends ``run()`` with that exception;
the Orchestrator logs it and decides about a restart.

Every order goes through ``send`` (``kinetic.engines.orders``: the trading-state gate,
journal first, closes without a naked window, the kill switch). The protection step
(``protect``, futures) runs at the end of every monitor step and alone in
``protect_once``, which the supervisor calls for a HALTED engine whose loops stopped.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from config import UnifiedConfig
from kinetic.clock import Clock
from kinetic.domain import (
    ZERO,
    Candle,
    CapitalAllocation,
    Direction,
    EngineSnapshot,
    EngineStatus,
    EquitySnapshot,
    Fill,
    Instrument,
    MarketType,
    Position,
    PositionSide,
    Signal,
    VenuePosition,
)
from kinetic.engines.drift_check import DriftChecker
from kinetic.engines.funding_sync import FundingSync
from kinetic.engines.gate import AlwaysActive, StateGate
from kinetic.engines.orders import OrderPath
from kinetic.engines.orders import OrderPurpose as OrderPurpose  # re-export
from kinetic.execution.oms import OrderManager
from kinetic.execution.protection import CloseRetries
from kinetic.execution.recorder import Recorder
from kinetic.execution.takeover import Takeover
from kinetic.logging import get_logger
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import ENTRY_SIDE, EntryPlan, PositionManager
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.manager import RiskManager
from kinetic.strategy.base import Strategy
from kinetic.tasks import cancel_and_wait
from kinetic.venues.base import SpotVenue, round_quantity
from kinetic.venues.base.errors import StaleDataError

CENT = Decimal("0.01")
_FLAT = Direction.FLAT  # a module global: read from its class an enum member is slow
PENDING_RECHECK_S = 1.0  # monitor wait while a stop or a close is pending

EntrySizer = Callable[[str, Decimal, int], Decimal]
"""``(symbol, margin, leverage) -> quantity``: size an entry at the expected fill price."""


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
    # per-symbol cooldown after a stop-out (``stop_cooldown_minutes``); the RiskManager
    # refuses entries on a symbol while it runs
    cooldown: SymbolBlacklist | None = None


class BaseEngine(OrderPath, ABC):
    """Scan + monitor loops around one strategy, risk manager and position manager."""

    market: MarketType
    # True when ``on_signal`` certainly does nothing with a FLAT signal, whatever the
    # state (the scan then does not call it; the signal is still the last one seen)
    ignores_flat = False

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
        # when this engine object first started: candles that closed before it (warm-up
        # history) may have been acted on by an earlier process, so their signals only
        # warm the strategy up and never send an intent a second time
        self._history_until_ms = -1
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
        self._deferred_takeover: tuple[Takeover, set[str]] | None = None
        self.funding: FundingSync | None = None  # set by the live daemon (futures)
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
        positions without them. Live: funding booked since the checkpoint (futures, see
        ``kinetic.engines.funding_sync``), then cash from the venue. Raises ``TakeoverRefused``
        when the venue holds what the journal cannot explain (nothing is changed then).
        """
        self.send_heartbeat()
        self._mark_history()
        await self.d.oms.start()
        await self.reconcile_positions()
        if self.funding is not None:  # before the cash: the wallet holds these already
            await self.funding.startup(self)
        if self.d.extra.get("cash_from_venue"):
            await self.sync_cash()
        self._started_once = True  # only once all of it succeeded: a failed start retries

    def _mark_history(self) -> None:
        """Remember when this process started: older candles are history (see scan)."""
        if self._history_until_ms < 0:
            self._history_until_ms = self.d.clock.time_ms()

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
        result = await takeover.run(
            first_start=first, restore_realized=first and bool(self.d.extra.get("cash_from_venue"))
        )
        # symbols compared only once our own late fills arrive (monitor_once settles them)
        self._deferred_takeover = (takeover, result.deferred) if result.deferred else None

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

    def settled(self) -> bool:
        """True when no step has anything of its own to finish: no close in flight or
        waiting to be retried, no protection pending (a backtest may then skip bars on
        which neither a signal nor a price level can make this engine act)."""
        return not self.protection_pending()

    # True when ``skipped_bars`` does something (a backtest then finds the extremes)
    follows_skipped_bars = False

    def skipped_bars(self, position: Position, high: float, low: float) -> None:
        """Hook: bars with these extremes were skipped while ``position`` was open."""

    def protection_pending(self) -> bool:
        """True while a close waits to fill or be retried, or an order's outcome is unknown
        (it may have filled: a position the books do not know yet); futures: or a stop is
        missing."""
        return self.closes.pending or self.d.oms.has_unknown()

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
            await cancel_and_wait(*waits)

    # ------------------------------------------------------------------ scan
    async def scan_once(self) -> None:
        """Feed new closed candles to the strategy; act on each symbol's latest signal."""
        d = self.d
        on_candle = d.strategy.on_candle
        for symbol in d.symbols:
            candles = d.store.since(symbol, self._scan_cursor.get(symbol, -1))
            if not candles:
                continue
            signal: Signal | None = None
            for candle in candles:
                signal = on_candle(candle)
                self.candles_seen += 1
            last = candles[-1]
            self._scan_cursor[symbol] = last.open_time_ms
            if signal is None or self._stop.is_set():  # ``stopping``
                continue
            if last.close_time_ms <= self._history_until_ms:
                continue  # closed before this process started: warm-up only
            self._last_signal[symbol] = signal
            if signal.direction is _FLAT and self.ignores_flat:
                continue  # this engine's ``on_signal`` does nothing on FLAT
            await self.on_signal(signal, last)

    @abstractmethod
    async def on_signal(self, signal: Signal, candle: Candle) -> None:
        """Decide entries and signal-driven exits for one symbol."""

    # ------------------------------------------------------------------ monitor
    async def monitor_once(self) -> None:
        """Check positions against new candles, sync fills, snapshot equity.

        Steps with nothing to do are not entered (the same engine code runs live, so
        each guard holds there too): a symbol is synced while it has a position or the
        OMS tracks an order of it (``OrderManager.idle``: no tracked order at all means
        none open and none awaiting fills); ``resolve_unknown`` looks only at the OMS's
        open orders (none while it is idle); ``retry_closes`` only walks ``closes``.
        """
        d = self.d
        positions = d.positions.positions
        oms = d.oms
        cursors = self._monitor_cursor
        for symbol in d.symbols:
            candles = d.store.since(symbol, cursors.get(symbol, -1))
            if candles:
                cursors[symbol] = candles[-1].open_time_ms
            if (
                symbol in positions
                or (not oms.idle() and (oms.open_orders(symbol) or oms.awaiting_fills(symbol)))
            ) and self._sync_needed(symbol):
                await self.sync(symbol)
            for candle in candles:
                pos = positions.get(symbol)
                if pos is None:
                    break
                if candle.close_time_ms <= pos.opened_ms:
                    continue  # closed before the entry: its range says nothing about exits
                await self.check_exits(pos, candle)
        if self._deferred_takeover is not None:
            await self._settle_takeover()
        await self.complete_reversals()
        await self.protect()
        if (
            not oms.idle()
            or self.closes.pending
            or self.funding is not None
            or self.drift is not None
        ):
            await self._follow_ups()
        if d.clock.time() >= self._next_snapshot_s:  # ``maybe_snapshot``'s own test
            await self.maybe_snapshot()

    def idle_monitor_step(self) -> bool:
        """The monitor step without awaiting anything, when it would only move its candle
        cursors: flat, no order tracked (``OrderManager.idle``), no takeover deferred, no
        close pending, no funding or drift follow-up, hooks idle (``hooks_idle``), no
        snapshot due. Returns False, having done nothing, otherwise: the caller then
        awaits ``monitor_once``. The backtest's stepped path takes it on every bar."""
        d = self.d
        if (
            d.positions.positions
            or not d.oms.idle()
            or self._deferred_takeover is not None
            or self.closes.pending
            or self.funding is not None
            or self.drift is not None
            or not self.hooks_idle()
            or d.clock.time() >= self._next_snapshot_s
        ):
            return False
        cursors = self._monitor_cursor
        for symbol in d.symbols:  # ``monitor_once``'s cursor update
            last = d.store.last(symbol)
            if last is not None and last.open_time_ms > cursors.get(symbol, -1):
                cursors[symbol] = last.open_time_ms
        return True

    def hooks_idle(self) -> bool:
        """True when ``complete_reversals`` and ``protect`` do nothing on a flat book with
        no order tracked (the base hooks do nothing at all; an override says when)."""
        return True

    async def _settle_takeover(self) -> None:
        """Compare the symbols the start-up takeover deferred, once our late fills came."""
        assert self._deferred_takeover is not None
        takeover, waiting = self._deferred_takeover
        waiting = await takeover.settle(waiting)
        self._deferred_takeover = (takeover, waiting) if waiting else None

    async def _follow_ups(self) -> None:
        """Unknown orders, closes to retry or settle, and (live) funding and drift."""
        if not self.d.oms.idle():
            await self.resolve_unknown()
        if self.closes.pending:
            await self.retry_closes()
        if self.funding is not None:
            await self.funding.maybe_sync(self)
        if self.drift is not None:
            await self.drift.maybe_check(self)

    @abstractmethod
    async def check_exits(self, position: Position, candle: Candle) -> None:
        """Close or protect ``position`` given one new closed candle."""

    async def complete_reversals(self) -> None:
        """Hook: open the new side of a reversal whose close filled late (futures)."""

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

    def _sync_needed(self, symbol: str) -> bool:
        """False when ``sync(symbol)`` would do nothing: no fills to read, none to follow."""
        oms = self.d.oms
        return oms.may_have_fills(symbol) or oms.journal_error is not None or self._journal_down

    async def sync(self, symbol: str, checked: tuple[bool, int | None] | None = None) -> None:
        """Apply ``symbol``'s fills not seen yet (``checked``: ``fill_check``'s, just given)."""
        oms = self.d.oms
        checked = checked or oms.fill_check(symbol)  # handed on: not asked again in sync_fills
        if checked[0]:
            for fill in await oms.sync_fills(symbol, checked):
                await self.apply_fill(fill)
        if oms.journal_error is not None or self._journal_down:  # else nothing to follow
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
                elif fill.side is ENTRY_SIDE[pos.side]:
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
        if trade.exit_reason == "stop_loss":
            await self.on_stop_out(trade.symbol)
        await self.on_position_closed(trade.symbol, trade.pnl)

    async def on_stop_out(self, symbol: str) -> None:
        """A stop closed ``symbol``'s position: start its cooldown (event ``cooldown``)."""
        cooldown = self.d.cooldown
        if cooldown is None or cooldown.duration_s <= 0:
            return
        until = cooldown.add(symbol, self.d.clock.time())
        minutes = cooldown.duration_s / 60
        await self.d.recorder.record_event(
            "cooldown",
            f"{symbol}: no entries for {minutes:g} min after a stop-out",
            self.name,
            {"symbol": symbol, "until_s": until},
        )

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
        out: dict[str, Decimal] = {}
        last = self.d.store.last
        for symbol in self.d.symbols:
            candle = last(symbol)
            if candle is not None:
                out[symbol] = self.close_price(candle)
        return out

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

    # ------------------------------------------------------------------ reporting
    def equity(self) -> Decimal:
        return self.d.positions.equity_now(self.prices)

    def exposure(self) -> Decimal:
        return self.d.positions.exposure_now(self.prices)

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
        return max(ZERO, min(alloc.available_usd, self.d.positions.available_now(self.prices)))

"""FuturesEngine: regime-aware long/short trading with leverage and exchange-side stops.

Entry size scales with confidence between ``futures_position_size_min_pct`` and
``..._max_pct`` of the engine's allocation; leverage comes from the regime and
confidence within ``futures_leverage_min..max``. Every position gets a reduce-only
STOP_MARKET on the venue at ``entry -/+ ATR x futures_atr_stop_multiplier``; once the
profit reaches ``futures_trailing_activation_pct`` the stop trails the best price. A
losing trade blacklists the symbol for ``futures_blacklist_duration_minutes``.

Protection (``protect``, every monitor step and ``protect_once``): one read of the
venue's open orders and one of its positions; a stop that is missing, cancelled or too
small is placed again; a position that gets no stop within ``protection_grace_seconds``
(or whose stop level the price has already crossed) is closed at market and recorded as
``unprotected``. The same read records the venue's liquidation price on the position
and raises ``near_liquidation`` once per approach. An entry whose stop lies beyond the
estimated liquidation price is refused.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import cast

from kinetic.domain import (
    Candle,
    Direction,
    MarketType,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Signal,
    VenuePosition,
)
from kinetic.engines.base import BaseEngine, EngineDeps
from kinetic.engines.orders import OrderPurpose
from kinetic.engines.reversals import PendingReversals
from kinetic.execution.crashpoints import crash_point
from kinetic.execution.protection import (
    MAINTENANCE_MARGIN_RATE,
    Need,
    ProtectionMonitor,
    Verdict,
    estimated_liquidation,
    near_liquidation,
    stop_beyond_liquidation,
)
from kinetic.portfolio.positions import EntryPlan
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.entry import EntryQuote, EntryRequest, Refusal, tight_stop_policy
from kinetic.risk.leverage import RegimeLeverageCalculator
from kinetic.risk.sizing import ConfidencePositionSizer
from kinetic.risk.stops import atr_stop, update_trailing
from kinetic.venues.base import FuturesVenue, VenueError, VenueHalted, round_price
from kinetic.venues.base.filters import Rounding

UNKNOWN_LOOKUPS_PER_STEP = 2


class FuturesEngine(BaseEngine):
    """Trade perpetual futures long and short under the regime strategy."""

    market = MarketType.FUTURES

    def __init__(self, deps: EngineDeps, blacklist: SymbolBlacklist, name: str = "futures") -> None:
        super().__init__(name, deps, float(deps.config.futures_scan_interval_seconds))
        cfg = deps.config
        self.blacklist = blacklist
        self.sizer = ConfidencePositionSizer(
            cfg.futures_position_size_min_pct,
            cfg.futures_position_size_max_pct,
            cfg.futures_min_confidence,
        )
        self.leverage_calc = RegimeLeverageCalculator(
            cfg.futures_leverage_min, cfg.futures_leverage_max
        )
        self._stop_orders: dict[str, str] = {}  # symbol -> client id of the protective stop
        self._leverage_set: dict[str, int] = {}
        self._stop_distance: dict[str, Decimal] = {}  # symbol -> planned |entry - stop|
        self.protection = ProtectionMonitor(cfg.protection_grace_seconds, deps.oms.ids.ours)
        self._near_liquidation: set[str] = set()
        self._venue_checked: object = None
        self.reversals = PendingReversals()
        # True where nothing but this engine changes the venue's orders (a backtest's
        # SimExchange): the protection step then reads the venue only while a stop is
        # pending, which keeps backtests at their speed (a step reads twice otherwise)
        self.sole_venue_user = False

    @property
    def venue(self) -> FuturesVenue:
        venue = self.d.venue
        if venue is not self._venue_checked:  # a runtime Protocol check costs ~0.2 ms
            assert isinstance(venue, FuturesVenue)
            self._venue_checked = venue
        return cast(FuturesVenue, venue)

    # ------------------------------------------------------------------ entries
    async def on_signal(self, signal: Signal, candle: Candle) -> None:
        """Enter on a signal when flat; reverse on an opposite one (close, then open).

        The reversal's two market orders go out in this one step, close first, both
        journaled; the new side is sized on the cash the close freed. If the close's fill
        is not known yet, the new side waits for it (``PendingReversals``).
        """
        symbol = signal.symbol
        self.reversals.drop(symbol)  # a newer signal decides
        pos = self.d.positions.positions.get(symbol)
        if pos is not None:
            opposite = Direction.SHORT if pos.side is PositionSide.LONG else Direction.LONG
            if (
                signal.direction is not opposite
                or signal.confidence < self.d.config.futures_min_confidence
            ):
                return
            await self.close_position(symbol, f"signal reversal: {signal.reason}")
            if symbol in self.d.positions.positions:  # the close has not filled (yet)
                self.reversals.wait(symbol, signal, candle)
                return
        await self._open_side(signal, candle)

    async def _open_side(self, signal: Signal, candle: Candle) -> None:
        """Open the signal's side when flat: the entry of a new position or of a reversal."""
        symbol = signal.symbol
        if signal.direction is Direction.FLAT or signal.atr <= 0 or not self.fresh(symbol):
            return
        if not self.allows(OrderPurpose.ENTRY):
            self.log.debug("entry held by the trading state", symbol=symbol)
            return
        await self._enter(signal, candle)

    def hooks_idle(self) -> bool:
        """No reversal waiting (``complete_reversals``) and no stop tracked (``protect``
        returns at once on a flat book then)."""
        return not self.reversals.waiting and not self._stop_orders

    async def complete_reversals(self) -> None:
        """Open the new side of reversals whose close filled after their step."""
        for signal, candle in self.reversals.due(self.d.positions.positions, self.d.store):
            await self._open_side(signal, candle)

    async def _enter(self, signal: Signal, candle: Candle) -> None:
        cfg = self.d.config
        side = PositionSide.LONG if signal.direction is Direction.LONG else PositionSide.SHORT
        regime = signal.regime
        leverage = (
            self.leverage_calc.leverage(regime, signal.confidence)
            if regime
            else cfg.futures_leverage_min
        )
        alloc = self.d.allocation()
        # risk sizing: the margin cap is the largest position's margin; the older fixed
        # fraction scales the margin itself with confidence
        size_pct = (
            cfg.futures_position_size_max_pct
            if self.d.risk.rules.sized_by_risk
            else self.sizer.size_pct(signal.confidence)
        )
        wanted = alloc.allocated_usd * Decimal(str(size_pct)) / 100
        decision = self.d.risk.check_entry(
            signal, len(self.d.positions.positions), False, wanted, self.available_margin(alloc)
        )
        if not decision.allowed:
            self.log.debug("entry refused", symbol=signal.symbol, reason=decision.reason)
            return
        quote = self._plan(signal, side, Decimal(str(candle.close)), decision.margin_usd, leverage)
        if quote is None:
            return
        price, leverage = Decimal(str(candle.close)), quote.leverage
        liquidation = estimated_liquidation(side, price, leverage)
        if cfg.futures_liquidation_guard and stop_beyond_liquidation(side, quote.stop, liquidation):
            self.d.risk.refuse("liquidation", signal.symbol)
            self.log.warning("entry refused: the stop lies beyond the liquidation price",
                             symbol=signal.symbol, stop=str(quote.stop), leverage=leverage,
                             liquidation=str(liquidation.quantize(quote.stop)))  # fmt: skip
            return
        if self._leverage_set.get(signal.symbol) != leverage:
            await self.venue.set_isolated_margin(signal.symbol)
            await self.venue.set_leverage(signal.symbol, leverage)
            self._leverage_set[signal.symbol] = leverage
        self._stop_distance[signal.symbol] = abs(price - quote.stop)
        plan = EntryPlan(side, quote.stop, None, leverage, signal.confidence, signal.reason)
        qty = self.entry_quantity(signal.symbol, quote.margin, price, leverage)
        await self.send(
            signal.symbol, side.entry_side, qty, reason=f"entry: {signal.reason}", plan=plan
        )

    def _plan(
        self, signal: Signal, side: PositionSide, price: Decimal, margin: Decimal, leverage: int
    ) -> EntryQuote | None:
        """The RiskManager's stop rule, size, leverage and edge check (None: refused)."""
        cfg = self.d.config
        atr = Decimal(str(signal.atr))
        stop = atr_stop(price, side, atr, cfg.futures_atr_stop_multiplier)
        target = price + side.sign * atr * Decimal(str(cfg.futures_target_atr_multiplier))
        guard = cfg.futures_liquidation_guard and self.d.risk.rules.sized_by_risk
        quote = self.d.risk.plan(
            EntryRequest(
                side, price, atr, stop, target, signal.confidence, self.equity(), margin,
                leverage, tight_stop_policy(self.d.strategy),
                MAINTENANCE_MARGIN_RATE if guard else None,
                self.d.instruments[signal.symbol].max_qty,
            ),
            signal.symbol,
        )  # fmt: skip
        if isinstance(quote, Refusal):
            self.log.info("entry refused", symbol=signal.symbol, code=quote.code,
                          reason=quote.reason)  # fmt: skip
            return None
        if quote.widened:
            self.log.info("stop widened", symbol=signal.symbol, reason=quote.widened)
        return quote

    async def on_position_opened(self, position: Position) -> None:
        """Re-anchor the ATR stop on the fill price and place it on the venue."""
        signal = self._last_signal.get(position.symbol)
        distance = self._stop_distance.pop(position.symbol, None)
        if distance is not None:  # the planned distance (the stop rule may have widened it)
            position.stop_price = max(
                position.entry_price - position.side.sign * distance, Decimal(0)
            )
        elif signal is not None and signal.atr > 0:
            position.stop_price = atr_stop(
                position.entry_price,
                position.side,
                Decimal(str(signal.atr)),
                self.d.config.futures_atr_stop_multiplier,
            )
        inst = self.d.instruments[position.symbol]
        position.stop_price = round_price(position.stop_price, inst.tick_size, _away(position))
        if self.log.enabled(logging.INFO):
            self.log.info(
                "position opened",
                symbol=position.symbol,
                side=position.side,
                qty=str(position.quantity),
                entry=str(position.entry_price),
                leverage=position.leverage,
                stop=str(position.stop_price),
            )
        crash_point("before_stop")
        await self._protect(position)
        await self.d.recorder.record_position(self.name, position)

    # ------------------------------------------------------------------ stops
    async def _place_stop(self, position: Position, quantity: Decimal | None = None) -> str | None:
        """Place a reduce-only stop for ``quantity`` (the position's); its id if it rests."""
        inst = self.d.instruments[position.symbol]
        position.stop_price = round_price(position.stop_price, inst.tick_size, _away(position))
        cid = await self.send(
            position.symbol,
            position.side.exit_side,
            position.quantity if quantity is None else quantity,
            order_type=OrderType.STOP_MARKET,
            stop_price=position.stop_price,
            reduce_only=True,
            reason="stop_loss",
        )
        order = self.d.oms.order(cid) if cid is not None else None
        if order is None or order.status is OrderStatus.UNKNOWN:
            return None
        return cid

    async def _protect(self, position: Position, quantity: Decimal | None = None) -> bool:
        """Place ``position``'s stop; on failure start its grace period. True if placed.

        ``VenueHalted`` from the placement counts as a failed placement here: the grace
        close must still happen when the venue takes no stops (the OMS raises it again on
        the next failure anywhere else, which halts the engine as designed).
        """
        symbol = position.symbol
        try:
            cid = await self._place_stop(position, quantity)
        except VenueHalted as exc:
            self.log.error("stop placement halted by venue failures", symbol=symbol,
                           error=str(exc))  # fmt: skip
            cid = None
        if cid is not None:
            self._stop_orders[symbol] = cid
            self.protection.protected(symbol)
            return True
        waited = self.protection.failed(symbol, self.d.clock.time())
        self.log.error("protective stop not placed; retrying within the grace period",
                       symbol=symbol, unprotected_s=round(waited, 1),
                       grace_s=self.protection.grace_seconds)  # fmt: skip
        if self._through_stop(position) or self.protection.expired(symbol, self.d.clock.time()):
            await self._close_unprotected(position, waited)
        return False

    def _through_stop(self, position: Position) -> bool:
        """True when the last price has crossed the stop level: the stop would have fired."""
        price = self.price(position.symbol)
        if price is None:
            return False
        if position.side is PositionSide.LONG:
            return price <= position.stop_price
        return price >= position.stop_price

    async def _close_unprotected(self, position: Position, waited: float) -> None:
        symbol = position.symbol
        if self.closes.get(symbol) is None:
            note = f"{symbol}: no stop on the venue for {waited:.0f}s; closing at market"
            self.log.error("position unprotected; closing at market", symbol=symbol,
                           unprotected_s=round(waited, 1))  # fmt: skip
            data = {"symbol": symbol, "quantity": str(position.quantity), "waited_s": waited}
            await self.event("unprotected", note, data)
        await self.close_unprotected(symbol, "unprotected: no stop")

    async def _replace_stop(self, position: Position) -> None:
        """Place the new stop first, then cancel the old one (never a moment without)."""
        old = self._stop_orders.get(position.symbol)
        cid = await self._place_stop(position)
        if cid is None:
            if old is None:
                await self._protect(position)
            return  # the old stop stays in force
        self._stop_orders[position.symbol] = cid
        if old is not None:
            await self._cancel_quietly(old)

    async def _cancel_quietly(self, cid: str) -> bool:
        """Cancel one of our orders; False (logged) if the venue failed: swept next step."""
        try:
            await self.d.oms.cancel(cid)
        except VenueError as exc:
            self.log.warning("cancel failed; retried by the protection step",
                             client_order_id=cid, error=str(exc))  # fmt: skip
            return False
        return True

    async def on_position_increased(self, position: Position) -> None:
        """A later fill of the entry grew the position: the stop must cover all of it."""
        if position.symbol in self._stop_orders:
            await self._replace_stop(position)

    # ------------------------------------------------------------------ protection
    def protection_pending(self) -> bool:
        return super().protection_pending() or self.protection.pending

    def settled(self) -> bool:
        """Also: no reversal waits, every position's stop is known, no trail is active."""
        book = self.d.positions.positions
        return (
            super().settled()
            and not self.reversals.waiting
            and all(s in self._stop_orders and not p.trailing_active for s, p in book.items())
            and all(s in book for s in self._stop_orders)
        )

    follows_skipped_bars = True  # the best price follows the skipped bars

    def skipped_bars(self, position: Position, high: float, low: float) -> None:
        """The best price as ``check_exits`` would have moved it over the skipped bars.

        The caller guarantees the trail could not activate on them, so only the best
        price changes (``update_trailing`` keeps stop and activation as they are).
        """
        favourable = high if position.side is PositionSide.LONG else low
        update = update_trailing(
            position,
            Decimal(str(favourable)),
            self.d.config.futures_trailing_activation_pct,
            self.d.config.futures_trailing_distance_pct,
        )
        if update.changed:
            raise RuntimeError(f"{position.symbol}: the trail moved on skipped bars")
        position.best_price = update.best_price

    async def protect(self) -> None:
        """The protection step: every position has a resting reduce-only stop for its size.

        Reads the venue's open orders (all symbols, one call) and then its positions: a
        stop that fired between the two reads shows as a flat position, whose fill is
        then learnt. A failed read skips the step (logged); the next one tries again.
        """
        book = self.d.positions.positions
        if not book and not self._stop_orders:
            return
        if self.sole_venue_user and not self.protection.pending:
            return
        try:
            venue_orders = await self.venue.get_open_orders()
            venue_positions = await self.venue.get_positions()
        except VenueError as exc:
            self.log.warning("protection step skipped: venue read failed", error=str(exc))
            return
        sizes = {  # the venue's size of each book position (same side: one-way mode)
            p.symbol: p.quantity
            for p in venue_positions
            if p.quantity > 0 and p.symbol in book and book[p.symbol].side is p.side
        }
        for symbol in [s for s in book if s not in sizes]:
            await self.sync(symbol)  # flat on the venue: a stop (or liquidation) filled
        await self._note_liquidation(venue_positions)
        verdicts, orphans = self.protection.assess(
            list(book.values()), venue_orders, sizes, self._stop_orders
        )
        by_id = {o.client_order_id: o for o in venue_orders}
        for verdict in verdicts:
            await self._enforce(verdict, by_id)
        await self._sweep(orphans)
        unknown = [  # stops whose placement outcome was unknown and that do not rest
            o.client_order_id
            for o in self.d.oms.open_orders()
            if o.status is OrderStatus.UNKNOWN
            and o.client_order_id not in by_id
            and self.is_protective(o)
        ]
        for cid in unknown[:UNKNOWN_LOOKUPS_PER_STEP]:  # bounded: an outage piles them up
            await self._refresh_quietly(cid)

    async def _enforce(self, verdict: Verdict, venue_orders: dict[str, Order]) -> None:
        symbol = verdict.symbol
        position = self.d.positions.positions.get(symbol)
        if position is None:
            return
        if verdict.need is not Need.PLACE:
            assert verdict.keep is not None
            if verdict.need is Need.ADOPT:
                await self.d.oms.adopt(venue_orders[verdict.keep], "stop_loss")
                self.log.info("resting stop adopted", symbol=symbol, client_order_id=verdict.keep)
            self._stop_orders[symbol] = verdict.keep
            self.protection.protected(symbol)
        else:
            old = self._stop_orders.pop(symbol, None)
            if old is not None:
                await self._refresh_quietly(old)
            if symbol not in self.protection.unprotected():  # news: once per episode
                self.log.warning("protective stop missing; placing it", symbol=symbol,
                                 detail=verdict.detail, quantity=str(verdict.quantity))  # fmt: skip
                await self.event(
                    "stop_replaced",
                    f"{symbol}: stop {verdict.detail}; placing a new one",
                    {"symbol": symbol, "detail": verdict.detail, "previous": old},
                )
            if not await self._protect(position, verdict.quantity):
                return
        for cid in verdict.stale:
            await self._adopt_and_cancel(venue_orders.get(cid))

    async def _refresh_quietly(self, cid: str) -> None:
        """Learn the final status of a stop the venue no longer lists (journal stays right)."""
        try:
            await self.d.oms.refresh(cid)
        except VenueError as exc:
            self.log.warning("stop lookup failed", client_order_id=cid, error=str(exc))

    async def _adopt_and_cancel(self, order: Order | None) -> None:
        if order is None:
            return
        await self.d.oms.adopt(order, "stop_loss")
        await self._cancel_quietly(order.client_order_id)

    async def _sweep(self, orphans: list[Order]) -> None:
        """Cancel our stops resting where the book holds nothing (an entry is not in flight)."""
        for order in orphans:
            symbol = order.symbol
            if symbol in self.d.positions.positions or self._entry_in_flight(symbol):
                continue
            self.log.warning("stale stop without a position; cancelling", symbol=symbol,
                             client_order_id=order.client_order_id)  # fmt: skip
            if self._stop_orders.get(symbol) == order.client_order_id:
                del self._stop_orders[symbol]
            await self._adopt_and_cancel(order)
        for symbol in [s for s in self._stop_orders if s not in self.d.positions.positions]:
            del self._stop_orders[symbol]

    def _entry_in_flight(self, symbol: str) -> bool:
        oms = self.d.oms
        return oms.awaiting_fills(symbol) or any(
            not self.is_protective(o) for o in oms.open_orders(symbol)
        )

    def is_protective(self, order: Order) -> bool:
        return order.reduce_only and order.order_type is OrderType.STOP_MARKET

    async def _note_liquidation(self, venue_positions: list[VenuePosition]) -> None:
        """Record the venue's liquidation price; raise ``near_liquidation`` once per approach."""
        for vp in venue_positions:
            pos = self.d.positions.positions.get(vp.symbol)
            if pos is None or vp.side is not pos.side:
                continue
            liquidation = vp.liquidation_price if vp.liquidation_price > 0 else None
            if liquidation != pos.liquidation_price:
                pos.liquidation_price = liquidation
                await self.d.recorder.record_position(self.name, pos)
            mark = self.price(vp.symbol)
            if liquidation is None or mark is None:
                continue
            pct = self.d.config.near_liquidation_pct
            if not near_liquidation(mark, liquidation, pct):
                self._near_liquidation.discard(vp.symbol)
            elif vp.symbol not in self._near_liquidation:
                self._near_liquidation.add(vp.symbol)
                data = {"symbol": vp.symbol, "mark": str(mark), "liquidation": str(liquidation)}
                self.log.warning("mark near the liquidation price", **data)
                await self.event(
                    "near_liquidation",
                    f"{vp.symbol}: mark {mark} within {pct:g}% of liquidation {liquidation}",
                    data,
                )

    # ------------------------------------------------------------------ lifecycle
    async def startup(self) -> None:
        """Reconcile, re-attach the stops adopted from the journal, run the protection step."""
        await super().startup()
        for order in self.d.oms.open_orders():
            if self.is_protective(order):
                self._stop_orders[order.symbol] = order.client_order_id
        await self.protect()

    async def venue_positions(self) -> dict[str, VenuePosition]:
        """The venue's open positions by symbol, for the start-up takeover (one-way mode)."""
        return {p.symbol: p for p in await self.venue.get_positions() if p.quantity > 0}

    async def check_exits(self, position: Position, candle: Candle) -> None:
        cfg = self.d.config
        old_stop = position.stop_price
        favourable = candle.high if position.side is PositionSide.LONG else candle.low
        update = update_trailing(
            position,
            Decimal(str(favourable)),
            cfg.futures_trailing_activation_pct,
            cfg.futures_trailing_distance_pct,
        )
        update.apply(position)
        inst = self.d.instruments[position.symbol]
        position.stop_price = round_price(position.stop_price, inst.tick_size, _away(position))
        if position.stop_price != old_stop and position.symbol in self._stop_orders:
            await self._replace_stop(position)
            await self.d.recorder.record_position(self.name, position)

    async def on_position_closed(self, symbol: str, pnl: Decimal) -> None:
        """The close (or the stop) filled: only now does the stop go."""
        self.protection.forget(symbol)
        self._near_liquidation.discard(symbol)
        cid = self._stop_orders.pop(symbol, None)
        order = self.d.oms.order(cid) if cid is not None else None
        resting = order is not None and not order.status.is_terminal
        if resting and cid is not None and not await self._cancel_quietly(cid):
            self._stop_orders[symbol] = cid  # the protection step sweeps it
        if pnl < 0 and self.d.config.futures_blacklist_duration_minutes > 0:
            self.blacklist.add(symbol, self.d.clock.time())
            minutes = self.d.config.futures_blacklist_duration_minutes
            await self.d.recorder.record_event(
                "blacklist",
                f"{symbol} blacklisted for {minutes} min after a loss",
                self.name,
                {"symbol": symbol, "pnl": str(pnl)},
            )


def _away(position: Position) -> Rounding:
    """Round a protective stop away from the position: never tighter than computed."""
    return "down" if position.side is PositionSide.LONG else "up"

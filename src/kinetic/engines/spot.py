"""SpotEngine: long-only trend trading with fixed stop-loss and take-profit.

Every position gets an exchange-side stop where the venue offers one (``stop_order_type``):
a sell for the whole position at ``entry x (1 - spot_stop_loss_pct)``, which protects it
while data is stale, the engine is stopped or the process is down. The candle check
(``check_exits``) stays as the fallback and is the only take-profit: on spot a resting
sell locks the coins, so a take-profit cannot rest beside the stop.

* The monitor step syncs fills first: a stop that filled on the venue closes the
  position through its fill, and the candle check then finds nothing to sell.
* A candle-check close must cancel the stop first (its coins are locked): cancel, confirm
  the stop is cancelled (or learn it filled), then sell; if the sell does not go
  through the stop is placed again at once. That sequence is the one naked window.
* The protection step (``protect``, the end of every monitor step; alone for a HALTED
  engine) looks the stop up on the venue; a stop that was cancelled or expired there, or
  covers a different size, is placed again. A stop that cannot be
  placed is retried every ``STOP_RETRY_S`` (an ``unprotected`` event on the first miss).
* On start the stops resting from an earlier run are adopted from the journal.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from config import UnifiedConfig
from kinetic.domain import (
    HUNDRED,
    ZERO,
    Candle,
    Direction,
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
    builder,
    exact,
)
from kinetic.engines.base import BaseEngine, EngineDeps, OrderPurpose
from kinetic.execution.oms import JournalUnwritable
from kinetic.portfolio.positions import new_entry_plan
from kinetic.risk.entry import Refusal, new_entry_request, tight_stop_policy
from kinetic.risk.stops import fixed_pct_stop, level_factors, take_profit
from kinetic.venues.base import round_price, round_quantity
from kinetic.venues.base.errors import OrderStateUnknown, PermanentError, TransientError

STOP_REASON = "stop_loss"
STOP_RETRY_S = 60.0  # a refused stop is tried again this long after the last attempt
STOP_TYPES = (OrderType.STOP_LIMIT, OrderType.STOP_MARKET)
_VENUE_ERRORS = (TransientError, PermanentError, OrderStateUnknown)  # not VenueHalted
_MARGIN = 2.0**-40  # relative float margin of ``_clear_of_levels``
_FLOOR = 1e-300  # and an absolute one (subnormal floats round absolutely)
# enum members as module globals: read from their class they take ``EnumType``'s slow
# ``__getattr__`` hook (about 1 us each, several per order)
_LONG, _SHORT = Direction.LONG, Direction.SHORT
_LONG_SIDE = PositionSide.LONG
_BUY = _LONG_SIDE.entry_side
_EXIT = OrderPurpose.EXIT
_STOP_LIMIT = OrderType.STOP_LIMIT
_ONE = Decimal(1)  # ``1 - x`` converts the int to a new Decimal per call
_new_intent = builder(OrderIntent)  # ``OrderIntent(...)``, without a descriptor per field


def stop_order_type(config: UnifiedConfig) -> OrderType | None:
    """The exchange-side stop the spot venue offers; None when switched off.

    Binance spot: ``STOP_LOSS_LIMIT`` (its market ``STOP_LOSS`` is not enabled on every
    symbol); Kraken spot: ``stop-loss``, a market order once triggered. The simulator
    models the configured ``spot_venue``.
    """
    if not config.spot_exchange_stop_enabled:
        return None
    return OrderType.STOP_MARKET if config.spot_venue == "kraken" else OrderType.STOP_LIMIT


class SpotEngine(BaseEngine):
    """Buy on a confident trend signal; exit on stop-loss, take-profit or trend break."""

    market = MarketType.SPOT
    # ``on_signal`` acts on LONG (an entry when flat) and SHORT (a close when held) only:
    # the scan does not call it for FLAT (see ``BaseEngine.scan_once``)
    ignores_flat = True

    def __init__(self, deps: EngineDeps, name: str = "spot") -> None:
        super().__init__(name, deps, float(deps.config.spot_scan_interval_seconds))
        self.stop_type = stop_order_type(deps.config)
        self._stop_orders: dict[str, str] = {}  # symbol -> client id of its resting stop
        self._retry_at: dict[str, float] = {}  # symbol -> earliest retry of a refused stop
        self._stop_fraction: dict[str, Decimal] = {}  # planned stop distance / price
        # symbol -> what its last ``_stop_intent`` that found no stop was computed from
        self._no_stop: dict[str, tuple[object, ...]] = {}
        # symbol -> (stop, take-profit, their floats): the objects the floats are of
        self._level_floats: dict[str, tuple[Any, ...]] = {}
        self._levels_of: tuple[Any, ...] = (None, ZERO, 0.0, 0.0, None, None)  # see ``_levels``

    async def on_signal(self, signal: Signal, candle: Candle) -> None:
        symbol = signal.symbol
        d = self.d
        positions = d.positions.positions
        if symbol in positions:
            if signal.direction is _SHORT:
                await self.close_position(symbol, signal.reason or "trend broken")
            return
        if signal.direction is not _LONG or not self.fresh(symbol):
            return
        price = self.close_price(candle)
        alloc = d.allocation()
        _, size_pct, target_pct, stop_pct, stop_f, target_f = self._levels()
        # the largest position: spot_position_size_pct of the allocation (risk sizing
        # usually asks for less)
        wanted = alloc.allocated_usd * size_pct / HUNDRED
        risk = d.risk
        decision = risk.check_entry(
            signal, len(positions), False, wanted, self.available_margin(alloc)
        )
        if not decision.allowed:
            self.log.debug("entry refused", symbol=symbol, reason=decision.reason)
            return
        # ``take_profit`` / ``fixed_pct_stop`` of the price: the price x their factor
        target = (
            price * target_f if target_f is not None else take_profit(price, _LONG_SIDE, target_pct)
        )
        stop = price * stop_f if stop_f is not None else fixed_pct_stop(price, _LONG_SIDE, stop_pct)
        quote = risk.plan(
            new_entry_request(
                _LONG_SIDE, price, Decimal(str(signal.atr)), stop, target,  # atr varies
                signal.confidence, self.equity(), decision.margin_usd, 1,
                tight_stop_policy(d.strategy), None, d.instruments[symbol].max_qty,
            ),
            symbol,
        )  # fmt: skip
        if isinstance(quote, Refusal):
            self.log.info("entry refused", symbol=symbol, code=quote.code, reason=quote.reason)
            return
        if quote.widened:
            self.log.info("stop widened", symbol=symbol, reason=quote.widened)
        stop, distance = quote.stop, quote.distance
        # the plan's ``abs(price - stop) / price`` is this long's ``(price - stop) / price``
        # (value and exponent) while the stop is not above the price
        self._stop_fraction[symbol] = (
            distance if distance is not None and stop <= price else (price - stop) / price
        )
        plan = new_entry_plan(_LONG_SIDE, stop, target, 1, signal.confidence, signal.reason)
        qty = self.entry_quantity(symbol, quote.margin, price)
        await self.send(symbol, _BUY, qty, reason=f"entry: {signal.reason}", plan=plan)

    def _levels(self) -> tuple[UnifiedConfig, Decimal, float, float, Any, Any]:
        """The config in force with its spot size (exact), take-profit and stop-loss %,
        and a long's stop and take-profit factors (``level_factors``; None: call the
        function).

        Read once per config object: a config is frozen and replaced whole at run time
        (``control.overlay``), and each field read of it costs its ``__getattr__`` hook.
        """
        cfg, levels = self.d.config, self._levels_of
        if levels[0] is not cfg:
            target_pct, stop_pct = cfg.spot_take_profit_pct, cfg.spot_stop_loss_pct
            levels = self._levels_of = (
                cfg, exact(cfg.spot_position_size_pct), target_pct, stop_pct,
                *level_factors(_LONG_SIDE, stop_pct, target_pct),
            )  # fmt: skip
        return levels

    async def on_position_opened(self, position: Position) -> None:
        # levels were computed from the signal price; re-anchor them on the fill price
        _, _, target_pct, stop_pct, _, target_f = self._levels()
        fraction = self._stop_fraction.pop(position.symbol, None)
        entry, side = position.entry_price, position.side
        if fraction is not None:  # the planned distance (the stop rule may have widened it)
            position.stop_price = entry * (_ONE - fraction)
        else:
            position.stop_price = fixed_pct_stop(entry, side, stop_pct)
        position.take_profit = (  # ``take_profit(entry, side, target_pct)``
            entry * target_f
            if target_f is not None and side is _LONG_SIDE
            else take_profit(entry, side, target_pct)
        )
        await self.d.recorder.record_position(self.name, position)
        if self.log.enabled(logging.INFO):
            self.log.info(
                "position opened",
                symbol=position.symbol,
                qty=str(position.quantity),
                entry=str(position.entry_price),
                stop=str(position.stop_price),
                take_profit=str(position.take_profit),
            )
        intent = self._stop_intent(position)
        if intent is not None:  # ``_protect(position)``, its call only when there is a stop
            await self._protect(position, intent)

    async def on_position_increased(self, position: Position) -> None:
        """A later fill of the entry grew the position: the stop must cover all of it."""
        if self.stop_type is not None and await self._lift_stop(position.symbol) != "open":
            await self._protect(position)

    async def on_position_closed(self, symbol: str, pnl: Decimal) -> None:
        self._retry_at.pop(symbol, None)
        if symbol in self._stop_orders:
            await self._lift_stop(symbol)  # normally final already: it filled or was lifted

    def settled(self) -> bool:
        return super().settled() and not self._retry_at

    async def check_exits(self, position: Position, candle: Candle) -> None:
        if self._clear_of_levels(position, candle):
            return
        if Decimal(str(candle.low)) <= position.stop_price:
            await self.close_position(position.symbol, STOP_REASON)
        elif position.take_profit is not None and Decimal(str(candle.high)) >= position.take_profit:
            await self.close_position(position.symbol, "take_profit")

    def _clear_of_levels(self, position: Position, candle: Candle) -> bool:
        """True when ``candle`` certainly reaches neither the stop nor the take-profit.

        Decided in floats, with a margin of ``2**-40`` of the magnitudes: the candle's
        Decimal (its repr) and the levels' floats are within ``2**-53`` of them, so a
        float gap wider than the margin is a Decimal gap of the same sign. Closer (or
        nan) is left to the exact Decimal comparison of ``check_exits``.
        """
        stop, target = position.stop_price, position.take_profit
        cached = self._level_floats.get(position.symbol)
        if cached is None or cached[0] is not stop or cached[1] is not target:
            cached = (stop, target, float(stop), None if target is None else float(target))
            self._level_floats[position.symbol] = cached
        stop_f: float = cached[2]
        target_f: float | None = cached[3]
        low = candle.low
        if not low - stop_f > (abs(low) + abs(stop_f)) * _MARGIN + _FLOOR:
            return False
        if target_f is None:
            return True
        high = candle.high
        return target_f - high > (abs(high) + abs(target_f)) * _MARGIN + _FLOOR

    # ------------------------------------------------------------------ closing
    async def close_position(self, symbol: str, reason: str) -> None:
        """Lift the stop (confirmed), let the base close sell, put the stop back if it did not.

        On spot the stop locks the coins being sold, so it cannot rest while the close goes
        out. Nothing is lifted while the trading state holds exits, while an earlier close
        is still in flight or backing off: the base close would not sell then either.
        """
        now = self.d.clock.time()
        positions = self.d.positions.positions
        if (
            symbol not in positions
            or not self.allows(_EXIT)
            or self._close_in_flight(symbol)
            or self.closes.backing_off(symbol, now)
        ):
            await super().close_position(symbol, reason)
            return
        if symbol not in self._stop_orders:  # no stop to lift, nothing awaited: the base
            try:  # close's tests hold and ``before_close`` has nothing to cancel
                await self._close(symbol, reason, protective=False, checked=True)
            finally:  # as below
                if symbol in positions:
                    await self._restore_stop(symbol)
            return
        lifted = await self._lift_stop(symbol)
        if lifted == "open":
            self.log.warning("stop not confirmed cancelled; no sell yet", symbol=symbol)
            return
        if lifted == "filled":
            await self.sync(symbol)
            if symbol in self.d.positions.positions:
                return  # the stop sold the coins; its fills are on their way
        try:
            await super().close_position(symbol, reason)
        finally:  # refused, failed or raised: the coins must not stay without a stop
            if symbol in self.d.positions.positions:
                await self._restore_stop(symbol)

    async def before_close(self, symbol: str) -> bool:
        """The stop locks the coins a close sells: it goes first (also on close retries)."""
        if symbol not in self._stop_orders:
            return False  # ``_lift_stop`` would say "gone" at once
        return await self._lift_stop(symbol) != "gone"

    async def _restore_stop(self, symbol: str) -> None:
        pos = self.d.positions.positions.get(symbol)
        if pos is None or symbol in self._stop_orders or self._close_in_flight(symbol):
            return
        self.log.warning("close did not go through; stop placed again", symbol=symbol)
        await self._protect(pos)

    async def _lift_stop(self, symbol: str) -> str:
        """Cancel ``symbol``'s stop and confirm it: ``gone``, ``filled`` or still ``open``."""
        cid = self._stop_orders.get(symbol)
        order = self.d.oms.order(cid) if cid is not None else None
        if cid is None or order is None:
            self._stop_orders.pop(symbol, None)
            return "gone"
        if not order.status.is_terminal:
            try:
                await self.d.oms.cancel(cid)
            except _VENUE_ERRORS as exc:
                self.log.warning("stop cancel failed", symbol=symbol, error=str(exc))
                return "open"
        if not order.status.is_terminal:
            return "open"
        del self._stop_orders[symbol]
        return "filled" if order.status is OrderStatus.FILLED else "gone"

    # ------------------------------------------------------------------ protection
    async def _protect(self, position: Position, intent: OrderIntent | None = None) -> None:
        """Place the exchange-side stop for the whole position (if the venue has one).

        ``intent``: ``_stop_intent(position)``'s, drawn just now (it draws a client id).
        """
        if intent is None:
            intent = self._stop_intent(position)
        if intent is None:
            return
        symbol = position.symbol
        cid = await self._place_stop(intent)
        if cid is not None:
            self._stop_orders[symbol] = cid
            self._retry_at.pop(symbol, None)
            return
        if symbol not in self._retry_at:
            self.log.error("exchange-side stop refused; the candle check protects", symbol=symbol)
            await self.event(
                "unprotected",
                f"{symbol}: spot stop could not be placed; candle check only, retried",
                {"symbol": symbol, "stop": str(position.stop_price)},
            )
        self._retry_at[symbol] = self.d.clock.time() + STOP_RETRY_S

    def _stop_intent(self, position: Position) -> OrderIntent | None:
        """The stop for ``position``; None when there is nothing a stop could protect.

        That is: stops switched off, a quantity below one lot (dust), or a stop at or
        below zero after rounding (``--raw`` backtests: a stop that can never trigger
        would only keep an order resting).
        """
        if self.stop_type is None:
            return None
        inst = self.d.instruments[position.symbol]
        # the answer None depends on these values only (nothing is drawn for it, no id):
        # the same ones give None again without rounding anything (every step of a
        # ``--raw`` backtest holding a position comes here)
        key = self._stop_key(position, inst)
        if self._no_stop.get(position.symbol) == key:
            return None
        stop = round_price(position.stop_price, inst.tick_size, "down")
        if stop.is_zero():  # a zero stop (a stop-limit's limit too: zero x any offset) is none
            self._no_stop[position.symbol] = key
            return None
        qty = round_quantity(position.quantity, inst)
        limit = None
        if self.stop_type is _STOP_LIMIT:
            offset = exact(self.d.config.spot_stop_limit_offset_pct)
            limit = round_price(stop * (1 - offset / HUNDRED), inst.tick_size, "down")
        if qty <= ZERO or (limit if limit is not None else stop) <= ZERO:
            self._no_stop[position.symbol] = key
            return None
        cid = self.d.oms.next_client_order_id(position.symbol)
        return _new_intent(
            self.name, position.symbol, Side.SELL, self.stop_type, qty, cid, limit, stop,
            True, 1, STOP_REASON,
        )  # fmt: skip

    def _stop_key(self, position: Position, inst: Instrument) -> tuple[object, ...]:
        return (position.quantity, position.stop_price, inst, self.stop_type, self.d.config)

    def _no_stop_for(self, position: Position) -> bool:
        """True when ``_stop_intent`` already found no stop for these very values."""
        key = self._no_stop.get(position.symbol)
        return key is not None and key == self._stop_key(
            position, self.d.instruments[position.symbol]
        )

    async def _place_stop(self, intent: OrderIntent) -> str | None:
        """Journal and send the stop; its client id unless the venue refused it."""
        cid = intent.client_order_id
        self._exit_reasons[cid] = STOP_REASON
        try:
            order = await self.d.oms.submit(intent)
        except JournalUnwritable as exc:  # never sent: nothing unjournaled goes out
            self._exit_reasons.pop(cid, None)
            await self.journal_unwritable(str(exc))
            return None
        if order.status.never_placed:
            self._exit_reasons.pop(cid, None)
            return None
        return cid  # UNKNOWN included: the next check looks it up by client id

    async def protect(self) -> None:
        """The protection step (end of every monitor step): every position has its stop."""
        if self.stop_type is None or not self.d.positions.positions:
            return
        now = self.d.clock.time()
        for symbol in list(self.d.positions.positions):
            if self._close_in_flight(symbol) or (
                symbol in self._stop_orders and await self._stop_rests(symbol)
            ):
                continue  # a sell in flight holds the coins, or the stop rests
            pos = self.d.positions.positions.get(symbol)
            if pos is None or now < self._retry_at.get(symbol, 0.0):
                continue  # closed by the stop's fills, or waiting to retry
            if not self._no_stop_for(pos):  # ``_protect`` would find no stop again
                await self._protect(pos)

    async def _stop_rests(self, symbol: str) -> bool:
        """True while ``symbol``'s stop rests on the venue for the position's size."""
        cid = self._stop_orders.get(symbol)
        order = self.d.oms.order(cid) if cid is not None else None
        if cid is None or order is None:
            return False
        if not order.status.is_terminal:
            try:
                found = await self.d.venue.get_order(symbol, cid)
            except _VENUE_ERRORS as exc:
                self.log.warning("stop check failed", symbol=symbol, error=str(exc))
                return True  # cannot tell: look again next step
            if found is not None and found.status in (
                OrderStatus.FILLED,
                OrderStatus.PARTIALLY_FILLED,
            ):
                await self.sync(symbol)  # it traded: its fills close (or shrink) the position
                return found.status is OrderStatus.FILLED or self._covers(symbol, found)
            if found is not None and not found.status.is_terminal:
                if self._covers(symbol, found):
                    return True
                self.log.warning("stop size differs from the position", symbol=symbol)
            return await self._drop_stop(symbol, cid, found)
        if order.status is OrderStatus.FILLED:
            return True  # its fills are on their way: never sell twice
        self._stop_orders.pop(symbol, None)
        return False

    def _covers(self, symbol: str, found: Order) -> bool:
        pos = self.d.positions.positions.get(symbol)
        if pos is None:
            return True
        return found.remaining == round_quantity(pos.quantity, self.d.instruments[symbol])

    async def _drop_stop(self, symbol: str, cid: str, found: Order | None) -> bool:
        """The stop is gone from the venue (or wrong): journal that; True if it filled."""
        state = found.status if found is not None else "not found"
        self.log.warning("resting stop missing on the venue; placing it again", symbol=symbol)
        await self.event(
            "stop_missing",
            f"{symbol}: spot stop {cid} is {state} on the venue; placing it again",
            {"symbol": symbol, "client_order_id": cid, "status": str(state)},
        )
        return await self._lift_stop(symbol) == "filled"

    # ------------------------------------------------------------------ start-up
    async def startup(self) -> None:
        """Reconcile (base), adopt stops resting from an earlier run, protect the rest."""
        await super().startup()
        if self.stop_type is None:
            return
        for order in self.d.oms.open_orders():
            if order.order_type not in STOP_TYPES or order.side is not Side.SELL:
                continue
            symbol, cid = order.symbol, order.client_order_id
            if symbol in self.d.positions.positions and symbol not in self._stop_orders:
                self._stop_orders[symbol] = cid
                self.log.info("resting stop adopted", symbol=symbol, client_order_id=cid)
            elif self._stop_orders.get(symbol) != cid:  # no position, or a second stop
                await self.d.oms.cancel(cid)
        for symbol, pos in list(self.d.positions.positions.items()):
            if not await self._stop_rests(symbol) and symbol in self.d.positions.positions:
                await self._protect(pos)

"""FuturesEngine: regime-aware long/short trading with leverage and exchange-side stops.

Entry size scales with confidence between ``futures_position_size_min_pct`` and
``..._max_pct`` of the engine's allocation; leverage comes from the regime and
confidence within ``futures_leverage_min..max``. Every position gets a reduce-only
STOP_MARKET on the venue at ``entry -/+ ATR x futures_atr_stop_multiplier``; once the
profit reaches ``futures_trailing_activation_pct`` the stop trails the best price. A
losing trade blacklists the symbol for ``futures_blacklist_duration_minutes``.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from kinetic.domain import (
    Candle,
    Direction,
    MarketType,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Signal,
    VenuePosition,
)
from kinetic.engines.base import BaseEngine, EngineDeps
from kinetic.portfolio.positions import EntryPlan
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.leverage import RegimeLeverageCalculator
from kinetic.risk.sizing import ConfidencePositionSizer
from kinetic.risk.stops import atr_stop, update_trailing
from kinetic.venues.base import FuturesVenue, round_price
from kinetic.venues.base.filters import Rounding


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

    @property
    def venue(self) -> FuturesVenue:
        venue = self.d.venue
        assert isinstance(venue, FuturesVenue)
        return venue

    async def on_signal(self, signal: Signal, candle: Candle) -> None:
        symbol = signal.symbol
        pos = self.d.positions.positions.get(symbol)
        if pos is not None:
            opposite = Direction.SHORT if pos.side is PositionSide.LONG else Direction.LONG
            if (
                signal.direction is opposite
                and signal.confidence >= self.d.config.futures_min_confidence
            ):
                await self.close_position(symbol, f"signal reversal: {signal.reason}")
            return
        if signal.direction is Direction.FLAT or signal.atr <= 0 or not self.fresh(symbol):
            return
        await self._enter(signal, candle)

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
        wanted = alloc.allocated_usd * Decimal(str(self.sizer.size_pct(signal.confidence))) / 100
        decision = self.d.risk.check_entry(
            signal, len(self.d.positions.positions), False, wanted, self.available_margin(alloc)
        )
        if not decision.allowed:
            self.log.debug("entry refused", symbol=signal.symbol, reason=decision.reason)
            return
        price = Decimal(str(candle.close))
        if self._leverage_set.get(signal.symbol) != leverage:
            await self.venue.set_isolated_margin(signal.symbol)
            await self.venue.set_leverage(signal.symbol, leverage)
            self._leverage_set[signal.symbol] = leverage
        stop = atr_stop(price, side, Decimal(str(signal.atr)), cfg.futures_atr_stop_multiplier)
        plan = EntryPlan(side, stop, None, leverage, signal.confidence, signal.reason)
        qty = self.entry_quantity(signal.symbol, decision.margin_usd, price, leverage)
        await self.send(
            signal.symbol, side.entry_side, qty, reason=f"entry: {signal.reason}", plan=plan
        )

    async def on_position_opened(self, position: Position) -> None:
        """Re-anchor the ATR stop on the fill price and place it on the venue."""
        signal = self._last_signal.get(position.symbol)
        if signal is not None and signal.atr > 0:
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
        await self._protect(position)
        await self.d.recorder.record_position(self.name, position)

    async def _place_stop(self, position: Position) -> str | None:
        """Place a reduce-only stop for the whole position; its client id if the venue took it."""
        inst = self.d.instruments[position.symbol]
        position.stop_price = round_price(position.stop_price, inst.tick_size, _away(position))
        cid = await self.send(
            position.symbol,
            position.side.exit_side,
            position.quantity,
            order_type=OrderType.STOP_MARKET,
            stop_price=position.stop_price,
            reduce_only=True,
            reason="stop_loss",
        )
        order = self.d.oms.order(cid) if cid is not None else None
        if order is None or order.status is OrderStatus.UNKNOWN:
            return None
        return cid

    async def _protect(self, position: Position) -> None:
        """Every position has a stop on the venue; if one cannot be placed, close it."""
        cid = await self._place_stop(position)
        if cid is not None:
            self._stop_orders[position.symbol] = cid
            return
        self.log.error("protective stop refused; closing the position", symbol=position.symbol)
        await self.d.recorder.record_event(
            "unprotected",
            f"{position.symbol}: stop placement failed; closing at market",
            self.name,
            {"symbol": position.symbol},
        )
        await self.close_position(position.symbol, "stop placement failed")

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
            await self.d.oms.cancel(old)

    async def on_position_increased(self, position: Position) -> None:
        """A later fill of the entry grew the position: the stop must cover all of it."""
        if position.symbol in self._stop_orders:
            await self._replace_stop(position)

    async def startup(self) -> None:
        """Reconcile, then re-attach protective stops adopted from the journal."""
        await super().startup()
        for order in self.d.oms.open_orders():
            if order.order_type is OrderType.STOP_MARKET and order.reduce_only:
                self._stop_orders[order.symbol] = order.client_order_id
        for position in list(self.d.positions.positions.values()):
            if position.symbol not in self._stop_orders:  # e.g. cancelled by a dead-man switch
                await self._protect(position)

    async def venue_positions(self) -> dict[str, VenuePosition]:
        """The venue's open positions by symbol, for the start-up takeover (one-way mode)."""
        return {p.symbol: p for p in await self.venue.get_positions() if p.quantity > 0}

    async def before_close(self, symbol: str) -> bool:
        cid = self._stop_orders.pop(symbol, None)
        if cid is None:
            return False
        await self.d.oms.cancel(cid)
        return True

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
        cid = self._stop_orders.pop(symbol, None)
        if (
            cid is not None
            and (order := self.d.oms.order(cid)) is not None
            and not order.status.is_terminal
        ):
            await self.d.oms.cancel(cid)
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

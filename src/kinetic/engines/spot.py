"""SpotEngine: long-only trend trading with fixed stop-loss and take-profit."""

from __future__ import annotations

import logging
from decimal import Decimal

from kinetic.domain import Candle, Direction, MarketType, Position, PositionSide, Signal, exact
from kinetic.engines.base import BaseEngine, EngineDeps
from kinetic.portfolio.positions import EntryPlan
from kinetic.risk.stops import fixed_pct_stop, take_profit


class SpotEngine(BaseEngine):
    """Buy on a confident trend signal; exit on stop-loss, take-profit or trend break."""

    market = MarketType.SPOT

    def __init__(self, deps: EngineDeps, name: str = "spot") -> None:
        super().__init__(name, deps, float(deps.config.spot_scan_interval_seconds))

    async def on_signal(self, signal: Signal, candle: Candle) -> None:
        symbol = signal.symbol
        if symbol in self.d.positions.positions:
            if signal.direction is Direction.SHORT:
                await self.close_position(symbol, signal.reason or "trend broken")
            return
        if signal.direction is not Direction.LONG or not self.fresh(symbol):
            return
        price = self.close_price(candle)
        alloc = self.d.allocation()
        wanted = alloc.allocated_usd * exact(self.d.config.spot_position_size_pct) / 100
        decision = self.d.risk.check_entry(
            signal, len(self.d.positions.positions), False, wanted, self.available_margin(alloc)
        )
        if not decision.allowed:
            self.log.debug("entry refused", symbol=symbol, reason=decision.reason)
            return
        cfg = self.d.config
        plan = EntryPlan(
            PositionSide.LONG,
            fixed_pct_stop(price, PositionSide.LONG, cfg.spot_stop_loss_pct),
            take_profit(price, PositionSide.LONG, cfg.spot_take_profit_pct),
            1,
            signal.confidence,
            signal.reason,
        )
        qty = self.entry_quantity(symbol, decision.margin_usd, price)
        await self.send(
            symbol, PositionSide.LONG.entry_side, qty, reason=f"entry: {signal.reason}", plan=plan
        )

    async def on_position_opened(self, position: Position) -> None:
        # levels were computed from the signal price; re-anchor them on the fill price
        cfg = self.d.config
        position.stop_price = fixed_pct_stop(
            position.entry_price, position.side, cfg.spot_stop_loss_pct
        )
        position.take_profit = take_profit(
            position.entry_price, position.side, cfg.spot_take_profit_pct
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

    async def check_exits(self, position: Position, candle: Candle) -> None:
        if Decimal(str(candle.low)) <= position.stop_price:
            await self.close_position(position.symbol, "stop_loss")
        elif position.take_profit is not None and Decimal(str(candle.high)) >= position.take_profit:
            await self.close_position(position.symbol, "take_profit")

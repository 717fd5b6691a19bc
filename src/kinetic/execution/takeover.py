"""Start-up takeover: on every engine start the journal meets the venue.

Run by ``BaseEngine.startup`` on the first start and on every supervisor restart,
before the engine trades (and before the futures engine re-attaches its stops):

1. journaled open orders are brought in line with the venue (``OrderManager.reconcile``);
2. fills since the last journaled fill of each symbol are read and the ones of our own
   orders are applied through the normal path (journal, then ``PositionManager``), so an
   entry that filled while the process was down becomes a position;
3. the books are compared with the venue's positions (futures) or base-asset balances
   (spot), less what our own orders' unseen fills account for (the venue reports an
   order filled before it lists all its trades; those are applied once, when the fill
   sync sees them): a position the venue no longer holds is dropped, a smaller one is
   resized, and one the journal does not know (or holds smaller) is adopted, closed or
   refused per ``takeover_policy``; what cannot be explained refuses the start
   (``TakeoverRefused``, exit code 2) before anything is changed;
4. open orders on the venue that carry our client-id owner prefix and match no tracked
   order are cancelled (and journaled so); a resting stop of ours that protects a
   position without a tracked stop is kept for the engine's protection step to adopt;
   tracked stops with no position left are cancelled;
5. positions without protective levels get them (ATR x multiplier from the candles, or
   ``takeover_stop_pct``), anchored on the current price when the entry-anchored stop
   would already be through it; the futures engine then places the stop on the venue;
6. on the first start of a process on a real account, realized PnL is restored from
   the journal's closed trades.

Every action is a ``takeover`` event with the symbol, the action and the quantities.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from config import UnifiedConfig
from kinetic.domain import (
    ZERO,
    Candle,
    Fill,
    Instrument,
    MarketType,
    Order,
    OrderType,
    Position,
    PositionSide,
    VenuePosition,
)
from kinetic.errors import StartupError
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import Recorder
from kinetic.logging import get_logger
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import PositionManager
from kinetic.risk.stops import atr_stop, fixed_pct_stop, take_profit
from kinetic.venues.base import SpotVenue, round_price, round_quantity
from kinetic.venues.base.errors import PermanentError, TransientError
from kinetic.venues.base.filters import Rounding

ATR_BARS = 14
FOREIGN_WINDOW_MS = 86_400_000  # trades by hand this recent are seen, never replayed
EVENT = "takeover"


class TakeoverRefused(StartupError):
    """The start-up takeover found what it cannot explain or may not touch.

    The message is one line (the daemon prints it and exits 2); every finding is also
    recorded as a ``takeover`` event with action ``refused``.
    """

    def __init__(self, engine: str, findings: list[str]) -> None:
        self.engine = engine
        self.findings = list(findings)
        super().__init__(
            f"takeover refused ({engine}): {'; '.join(findings)}. Nothing was changed on "
            "the venue; see the 'takeover' events and docs/runbook.md (Start-up takeover)"
        )


class TakeoverHost(Protocol):
    """What the takeover needs from its engine (``BaseEngine`` provides it)."""

    async def apply_fill(self, fill: Fill) -> None: ...

    async def close_position(self, symbol: str, reason: str) -> None: ...

    async def venue_positions(self) -> dict[str, VenuePosition]: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """One planned change of the books: ``action`` on ``symbol``."""

    symbol: str
    action: str  # dropped | resized | adopted | increased | close
    venue: VenuePosition | None = None


@dataclass
class TakeoverResult:
    """What one takeover did (also recorded as events)."""

    fills_applied: int = 0
    actions: list[dict[str, Any]] = field(default_factory=list)
    # symbols whose comparison waits for our own unseen fills (see Takeover._explained)
    deferred: set[str] = field(default_factory=set)

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a["action"] == action)


@dataclass
class Takeover:
    """Reconcile one engine's books with its venue; see the module docstring."""

    engine: str
    market: MarketType
    config: UnifiedConfig
    venue: SpotVenue
    oms: OrderManager
    positions: PositionManager
    recorder: Recorder
    instruments: dict[str, Instrument]
    store: CandleStore
    host: TakeoverHost
    result: TakeoverResult = field(default_factory=TakeoverResult)

    def __post_init__(self) -> None:
        self.log = get_logger(engine=self.engine, component="takeover")

    @property
    def book(self) -> dict[str, Position]:
        return self.positions.positions

    async def run(self, *, first_start: bool, restore_realized: bool = False) -> TakeoverResult:
        """Take over; raise ``TakeoverRefused`` (having changed nothing) when told to."""
        if first_start:
            await self._load_journal_positions()
        await self.oms.reconcile()
        await self._apply_missed_fills()
        held = await self.host.venue_positions()
        for plan in await self._plan(held):
            await self._execute(plan)
        await self._venue_levels(held)
        await self._orphans()
        await self._levels()
        if restore_realized:
            await self._restore_realized()
        summary = {
            "positions": len(self.book),
            "open_orders": len(self.oms.open_orders()),
            "fills_applied": self.result.fills_applied,
            "actions": len(self.result.actions),
            "first_start": first_start,
        }
        if self.result.actions or not first_start:  # a quiet first start is only logged
            await self._event("", "completed", "takeover done", **summary)
        else:
            self.log.info("takeover done: venue and journal agree", **summary)
        return self.result

    # ------------------------------------------------------------------ journal
    async def _load_journal_positions(self) -> None:
        for pos in await self.recorder.positions(self.engine):
            self.book.setdefault(pos.symbol, pos)

    async def _apply_missed_fills(self) -> None:
        """Read fills since each symbol's checkpoint; apply those of our own orders.

        Every instrument is read, the ones never traded from ``FOREIGN_WINDOW_MS`` ago:
        a trade by hand is journaled as seen (so no later sync replays it into the
        books) and left to the position comparison.
        """
        checkpoints = await self.recorder.fill_checkpoints(self.engine)
        since = self.oms.clock.time_ms() - FOREIGN_WINDOW_MS
        for symbol in sorted(self.instruments):
            self.oms.read_fills_from(symbol, checkpoints.get(symbol, since))
            fills = await self.oms.sync_fills(symbol)
            if self.oms.consecutive_failures:  # the read failed: never guess without it
                raise TransientError(f"{self.engine}: fills of {symbol} not readable")
            for fill in fills:
                await self._apply(fill)

    async def _apply(self, fill: Fill) -> None:
        cid = fill.client_order_id
        data = {"side": str(fill.side), "quantity": str(fill.quantity), "price": str(fill.price)}
        if not (self.oms.ids.ours(cid) or self.oms.order(cid) is not None):
            # a trade by hand (or by another program): the position comparison below
            # decides about it under takeover_policy, never a silent replay
            await self._event(fill.symbol, "foreign_fill", "fill of a foreign order", **data)
            return
        await self.host.apply_fill(fill)
        self.result.fills_applied += 1
        await self._event(
            fill.symbol, "fill_applied", f"missed fill of {cid} applied", order=cid, **data
        )

    # ------------------------------------------------------------------ positions
    async def _plan(self, venue: dict[str, VenuePosition]) -> list[Plan]:
        """Decide every change first; refuse before touching anything."""
        plans: list[Plan] = []
        findings: list[str] = []
        for symbol in sorted(set(venue) | set(self.book)):
            held = await self._explained(symbol, venue.get(symbol))
            if symbol in self.result.deferred:
                continue
            plan, finding = self._plan_symbol(symbol, held, self.book.get(symbol))
            plans.extend(plan)
            if finding:
                findings.append(finding)
        if findings:
            for finding in findings:
                await self._event("", "refused", finding, finding=finding)
            self.log.error("takeover refused", findings=findings)
            raise TakeoverRefused(self.engine, findings)
        return plans

    async def _explained(self, symbol: str, held: VenuePosition | None) -> VenuePosition | None:
        """The venue's position less what our own orders' unseen fills account for.

        The venue reports an order of ours filled (its ``filled_qty``) before its trade
        list shows every trade: the position already holds those trades, the books not
        yet, and ``sync_fills`` applies them when they arrive. Only the rest is the
        venue's to explain: adopted, resized or dropped as usual. Counting that part
        in now would apply it twice (once adopted, once when the late trade arrives).
        """
        unseen = self.oms.unseen_fills(symbol)
        inst = self.instruments.get(symbol)
        if unseen == 0 or inst is None:
            return held
        signed = held.side.sign * held.quantity if held is not None else ZERO
        rest = signed - unseen
        if _significant(abs(rest), inst) and (signed == 0 or (rest > 0) != (signed > 0)):
            # the venue holds less than those fills (or the other side): a trade by hand
            # reduced the position after them, and what the books need now is not a
            # position at all (the late fills would land on a turned or empty book).
            # The comparison waits until they arrive (``settle``)
            self.result.deferred.add(symbol)
            await self._event(
                symbol, "deferred", "venue holds less than our unseen fills explain; "
                "compared with the books once those fills arrive",
                unseen=str(unseen), venue_quantity=str(signed),
            )  # fmt: skip
            return held
        explained: VenuePosition | None = None
        if _significant(abs(rest), inst):
            side = PositionSide.LONG if rest > 0 else PositionSide.SHORT
            if held is None:
                explained = VenuePosition(symbol, side, abs(rest), ZERO, 0, ZERO, ZERO, ZERO)
            else:
                explained = replace(held, side=side, quantity=abs(rest))
        await self._event(
            symbol, "awaiting_fills", "venue reports fills of our orders not seen yet; "
            "they are applied when they arrive, the rest is compared with the books",
            unseen=str(unseen), venue_quantity=str(signed), explained_quantity=str(rest),
        )  # fmt: skip
        return explained

    async def settle(self, symbols: set[str]) -> set[str]:
        """Compare the deferred ``symbols`` whose unseen fills have all arrived.

        Runs in the engine's monitor step after the fill sync; returns the symbols still
        waiting. What the start-up would have refused (``takeover_policy: refuse``) is
        recorded as a ``refused`` event and left to the drift check: the engine is
        already trading, and refusing now would change nothing on the venue.
        """
        ready = {s for s in symbols if self.oms.unseen_fills(s) == 0}
        if not ready:
            return symbols
        held = await self.host.venue_positions()
        for symbol in sorted(ready):
            plans, finding = self._plan_symbol(symbol, held.get(symbol), self.book.get(symbol))
            if finding:
                self.log.error("deferred takeover refused", finding=finding)
                await self._event(symbol, "refused", finding, finding=finding)
            for plan in plans:
                await self._execute(plan)
        await self._venue_levels(held)
        await self._stale_stops()
        await self._levels()
        return symbols - ready

    def _plan_symbol(
        self, symbol: str, held: VenuePosition | None, pos: Position | None
    ) -> tuple[list[Plan], str]:
        if held is None:
            return ([Plan(symbol, "dropped")] if pos is not None else []), ""
        inst = self.instruments.get(symbol)
        if inst is None:
            return [], (
                f"{symbol}: venue holds {held.side} {held.quantity} but the engine has no "
                "instrument for it (add it to the watchlist or close it by hand)"
            )
        plans: list[Plan] = []
        if pos is not None and pos.side is not held.side:
            plans.append(Plan(symbol, "dropped"))
            pos = None
        if pos is None:
            return self._by_policy(plans, Plan(symbol, "adopted", held), "not in the journal")
        diff = held.quantity - pos.quantity
        if not _significant(abs(diff), inst):
            return plans, ""
        if diff < 0:
            return [*plans, Plan(symbol, "resized", held)], ""
        what = f"larger than journaled ({pos.quantity})"
        return self._by_policy(plans, Plan(symbol, "increased", held), what)

    def _by_policy(self, plans: list[Plan], plan: Plan, what: str) -> tuple[list[Plan], str]:
        policy = self.config.takeover_policy
        held = plan.venue
        assert held is not None
        if policy == "refuse":
            return plans, (
                f"{plan.symbol}: venue holds {held.side} {held.quantity}, {what} "
                "(takeover_policy=refuse)"
            )
        if policy == "close":
            return [*plans, Plan(plan.symbol, "close", held)], ""
        return [*plans, plan], ""

    async def _execute(self, plan: Plan) -> None:
        symbol, held = plan.symbol, plan.venue
        if plan.action == "dropped":
            pos = self.book.pop(symbol)
            await self.recorder.delete_position(self.engine, symbol)
            await self._event(
                symbol, "dropped", "journaled position not held on the venue; dropped",
                side=str(pos.side), journal_quantity=str(pos.quantity), venue_quantity="0",
            )  # fmt: skip
            return
        assert held is not None
        if plan.action == "resized":
            await self._resize(self.book[symbol], held)
        elif plan.action in ("adopted", "increased"):
            await self._adopt(symbol, held, plan.action)
        else:
            await self._close(symbol, held)

    async def _venue_levels(self, held: dict[str, VenuePosition]) -> None:
        """Leverage and liquidation price as the venue reports them (a lost plan)."""
        for symbol, pos in self.book.items():
            venue = held.get(symbol)
            if venue is None or venue.side is not pos.side:
                continue
            before = (pos.leverage, pos.liquidation_price)
            _take_venue_levels(pos, venue)
            if (pos.leverage, pos.liquidation_price) != before:
                await self.recorder.record_position(self.engine, pos)

    async def _resize(self, pos: Position, held: VenuePosition) -> None:
        before = pos.quantity
        pos.fees = pos.fees * held.quantity / before
        pos.quantity = held.quantity
        _take_venue_levels(pos, held)
        await self.recorder.record_position(self.engine, pos)
        await self._event(
            pos.symbol, "resized", "venue holds less than journaled (closed in part by "
            "hand?); position resized", side=str(pos.side), journal_quantity=str(before),
            venue_quantity=str(held.quantity),
        )  # fmt: skip

    async def _adopt(self, symbol: str, held: VenuePosition, action: str) -> Position:
        pos = self.book.get(symbol)
        before = pos.quantity if pos is not None else ZERO
        price = held.entry_price if held.entry_price > 0 else await self._price(symbol)
        if pos is None:
            pos = Position(symbol, held.side, held.quantity, price, self.oms.clock.time_ms(), ZERO)
            pos.entry_reason = "takeover: adopted from the venue"
            self.book[symbol] = pos
        else:  # the extra at the venue's average (futures) or today's price (spot)
            extra = held.quantity - pos.quantity
            if held.entry_price <= 0:
                price = (pos.entry_price * pos.quantity + price * extra) / held.quantity
            pos.entry_price, pos.quantity = price, held.quantity
        _take_venue_levels(pos, held)
        await self.recorder.record_position(self.engine, pos)
        await self._event(
            symbol, action, f"venue position {'adopted' if before == 0 else 'increased'}",
            side=str(held.side), journal_quantity=str(before), venue_quantity=str(held.quantity),
            entry_price=str(pos.entry_price),
        )  # fmt: skip
        return pos

    async def _close(self, symbol: str, held: VenuePosition) -> None:
        """``close``: take the whole venue position into the books, then close it."""
        await self._adopt(symbol, held, "adopted")
        await self.host.close_position(symbol, "takeover: unknown position closed")
        left = self.book.get(symbol)
        await self._event(
            symbol, "closed", "unknown venue position closed at market (reduce-only)",
            side=str(held.side), venue_quantity=str(held.quantity),
            left=str(left.quantity if left is not None else ZERO),
        )  # fmt: skip

    # ------------------------------------------------------------------ orders
    async def _orphans(self) -> None:
        """Cancel our untracked orders; leave a resting stop that protects a position."""
        tracked = {o.client_order_id for o in self.oms.open_orders()}
        for order in await self.venue.get_open_orders():
            cid = order.client_order_id
            if cid in tracked or not self.oms.ids.ours(cid):
                continue  # tracked, or not ours: somebody else's order is left alone
            if self._protects_unguarded(order):
                await self._keep_stop(order)
                continue
            await self._cancel_orphan(order)
        await self._stale_stops()

    def _protects_unguarded(self, order: Order) -> bool:
        pos = self.book.get(order.symbol)
        return (
            pos is not None
            and _is_stop(order)
            and order.side is pos.side.exit_side
            and not any(_is_stop(o) for o in self.oms.open_orders(order.symbol))
        )

    async def _keep_stop(self, order: Order) -> None:
        """A stop of ours protects a position we track without one: it stays resting.

        The engine's protection step adopts it (or replaces it) right after the takeover;
        cancelling it here would leave the position naked in between.
        """
        pos = self.book[order.symbol]
        if pos.stop_price <= 0 and order.stop_price:
            pos.stop_price = order.stop_price
            await self.recorder.record_position(self.engine, pos)
        await self._event(
            order.symbol, "stop_kept", f"resting stop {order.client_order_id} kept",
            order=order.client_order_id, quantity=str(order.quantity),
            stop_price=str(order.stop_price),
        )  # fmt: skip

    async def _cancel_orphan(self, order: Order) -> None:
        cid = order.client_order_id
        try:
            done = await self.venue.cancel_order(order.symbol, cid)
        except PermanentError:  # final meanwhile (filled, cancelled): journal what it is
            done = await self.venue.get_order(order.symbol, cid) or order
        await self.recorder.record_order(self.engine, done, "takeover: orphan order cancelled")
        await self._event(
            order.symbol, "orphan_cancelled", f"orphan order {cid} {done.status}",
            order=cid, type=str(order.order_type), quantity=str(order.quantity),
        )  # fmt: skip

    async def _stale_stops(self) -> None:
        """A tracked stop whose position is gone (or turned) protects nothing: cancel it."""
        for order in self.oms.open_orders():
            pos = self.book.get(order.symbol)
            if not _is_stop(order) or (pos is not None and order.side is pos.side.exit_side):
                continue
            await self.oms.cancel(order.client_order_id)
            await self._event(
                order.symbol, "stale_stop_cancelled", "stop without a position cancelled",
                order=order.client_order_id, quantity=str(order.quantity),
            )  # fmt: skip

    # ------------------------------------------------------------------ levels
    async def _levels(self) -> None:
        """Give positions without a stop level one (the engine then protects them)."""
        for pos in list(self.book.values()):
            if pos.stop_price > 0:
                continue
            price = await self._price(pos.symbol)
            stop, tp = self._levels_for(pos, pos.entry_price)
            if (stop - price) * pos.side.sign >= 0:  # already through the market
                stop, tp = self._levels_for(pos, price)
            inst = self.instruments[pos.symbol]
            pos.stop_price = round_price(stop, inst.tick_size, _away(pos.side))
            pos.take_profit = pos.take_profit if pos.take_profit is not None else tp
            pos.best_price = pos.best_price if pos.best_price > 0 else pos.entry_price
            await self.recorder.record_position(self.engine, pos)
            await self._event(
                pos.symbol, "levels_set", "protective levels set for a position without them",
                quantity=str(pos.quantity), stop_price=str(pos.stop_price),
                take_profit=str(pos.take_profit) if pos.take_profit is not None else None,
            )  # fmt: skip

    def _levels_for(self, pos: Position, anchor: Decimal) -> tuple[Decimal, Decimal | None]:
        cfg = self.config
        if self.market is MarketType.SPOT:
            return (
                fixed_pct_stop(anchor, pos.side, cfg.spot_stop_loss_pct),
                take_profit(anchor, pos.side, cfg.spot_take_profit_pct),
            )
        atr = average_true_range(self.store.window(pos.symbol)[-(ATR_BARS + 1) :])
        if atr > 0:
            return atr_stop(anchor, pos.side, atr, cfg.futures_atr_stop_multiplier), None
        return fixed_pct_stop(anchor, pos.side, cfg.takeover_stop_pct), None

    async def _price(self, symbol: str) -> Decimal:
        candle = self.store.last(symbol)
        if candle is not None:
            return Decimal(str(candle.close))
        return await self.venue.get_ticker_price(symbol)

    # ------------------------------------------------------------------ PnL, events
    async def _restore_realized(self) -> None:
        """Realized PnL = closed trades, less the entry fees of what is still open."""
        trades = await self.recorder.realized_pnl(self.engine)
        open_fees = sum((p.fees for p in self.book.values()), ZERO)
        self.positions.realized_pnl = trades - open_fees
        self.log.info("realized PnL restored from the journal", realized=str(trades - open_fees))

    async def _event(self, symbol: str, action: str, message: str, **data: Any) -> None:
        entry = {"symbol": symbol, "action": action, **data}
        if action != "completed":
            self.result.actions.append(entry)
            self.log.warning("takeover", message=message, **entry)
        text = f"{symbol}: {message}" if symbol else message
        await self.recorder.record_event(EVENT, text, self.engine, entry)


def average_true_range(candles: Iterable[Candle]) -> Decimal:
    """The mean true range of ``candles`` (0 with fewer than two)."""
    ranges: list[float] = []
    prev: float | None = None
    for c in candles:
        if prev is not None:
            ranges.append(max(c.high, prev) - min(c.low, prev))
        prev = c.close
    return Decimal(str(sum(ranges) / len(ranges))) if ranges else ZERO


def _significant(qty: Decimal, inst: Instrument) -> bool:
    """More than dust: at least one step and the minimum order size."""
    return qty >= max(inst.step_size, inst.min_qty) and round_quantity(qty, inst) > 0


def _is_stop(order: Order) -> bool:
    """A resting protective stop (futures: reduce-only stop-market; spot: stop-limit)."""
    return order.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


def _take_venue_levels(pos: Position, held: VenuePosition) -> None:
    """Leverage and liquidation price as the venue reports them (futures)."""
    if held.leverage > 0:
        pos.leverage = held.leverage
    if held.liquidation_price > 0:
        pos.liquidation_price = held.liquidation_price


def _away(side: PositionSide) -> Rounding:
    return "down" if side is PositionSide.LONG else "up"

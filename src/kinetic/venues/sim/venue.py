"""Behaviour shared by the spot and futures simulators.

Orders, matching on candles, fees, slippage and the dead-man switch live here; the
subclasses supply the accounting through a handful of hooks (``_admit``, ``_release``,
``_fillable``, ``_settle`` and ``_after_candle``).
"""

from __future__ import annotations

import itertools
from collections import deque
from decimal import Decimal

from kinetic.clock import Clock
from kinetic.costs import CostModel
from kinetic.domain import (
    ZERO,
    Balance,
    Candle,
    Fill,
    Instrument,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    builder,
)
from kinetic.venues.base.errors import (
    DuplicateOrder,
    OrderNotFound,
    OrderRejected,
    StaleDataError,
    UnknownSymbol,
)
from kinetic.venues.base.filters import check_order, round_price
from kinetic.venues.sim.book import OrderBook, snapshot
from kinetic.venues.sim.pricing import (
    Bar,
    LastPrices,
    limit_crossed,
    slipped,
    stop_trigger_price,
)

_CANDLE_HISTORY = 1500
# enum members as module globals: read from their class they take ``EnumType``'s slow
# ``__getattr__`` hook (about 1 us each, several per order)
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_STOP_MARKET, _STOP_LIMIT = OrderType.STOP_MARKET, OrderType.STOP_LIMIT
_NEW, _FILLED, _EXPIRED = OrderStatus.NEW, OrderStatus.FILLED, OrderStatus.EXPIRED
_SELL = Side.SELL
_new_fill = builder(Fill)  # ``Fill(...)`` through a twin: no descriptor call per field


class SimVenueBase:
    """Match orders against candles; leave balances and margin to subclasses."""

    def __init__(
        self,
        *,
        instruments: dict[str, Instrument],
        clock: Clock,
        taker_fee: Decimal,
        maker_fee: Decimal,
        slippage_bps: Decimal,
        name: str,
        costs: CostModel | None = None,
    ) -> None:
        self.name = name
        self._instruments = dict(instruments)
        self._clock = clock
        # the one cost model the engines also price entries with (``kinetic.costs``);
        # ``costs`` wins over the separate rates
        self.costs = costs or CostModel(taker_fee, maker_fee, slippage_bps / Decimal(10_000))
        self._taker_fee = self.costs.taker_fee
        self._maker_fee = self.costs.maker_fee
        self.fixed_fee = Decimal(0)  # cash per fill on top of the rate (backtest references)
        self._slippage = self.costs.slippage
        self._book = OrderBook()
        self._last = LastPrices()
        self._candles: dict[str, deque[Candle]] = {}
        self._trade_seq = itertools.count(1)
        self._order_seq = itertools.count(1)
        self._dms_deadline_ms: int | None = None
        # STOP_LIMIT orders whose stop traded but whose limit did not: now plain limits
        self._triggered: set[str] = set()
        # (class, fill_count means something, _watches may say yes): see ``_traits``
        self._traits_of: tuple[type, bool, bool] = (object, False, True)

    # ----------------------------------------------------------- accounting hooks

    def _admit(self, order: Order, inst: Instrument, price: Decimal) -> Decimal:
        """Check funds for a new order, reserve them if it rests; return its quantity."""
        raise NotImplementedError

    def _release(self, order: Order) -> None:
        """Free whatever ``order`` reserved."""
        raise NotImplementedError

    def _fillable(self, order: Order, price: Decimal, is_maker: bool) -> Decimal:
        """Return how much of a triggered resting order can execute now (0 = expire)."""
        raise NotImplementedError

    def _settle(
        self,
        order: Order,
        inst: Instrument,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        notional: Decimal,
    ) -> None:
        """Apply one execution to the account (``notional``: ``qty * price``)."""
        raise NotImplementedError

    def _after_candle(self, bar: Bar, inst: Instrument) -> list[Fill]:
        """Run per-candle account checks (liquidation); return any fills they produce."""
        return []

    def _watches(self, symbol: str) -> bool:
        """True when ``_after_candle`` has something to check on ``symbol``'s candles."""
        return False

    async def get_balances(self) -> dict[str, Balance]:
        """Return balances by asset."""
        raise NotImplementedError

    def _traits(self) -> tuple[type, bool, bool]:
        """What this object's class changes (looked up again if the class is swapped).

        ``fill_count`` describes what ``get_fills`` returns only with this class's
        ``get_fills``; ``_watches`` is asked only where a subclass overrides it.
        """
        cls = type(self)
        if self._traits_of[0] is not cls:
            self._traits_of = (
                cls,
                cls.get_fills is SimVenueBase.get_fills,
                cls._watches is not SimVenueBase._watches,
            )
        return self._traits_of

    # ----------------------------------------------------------------- market data

    def on_candle(self, candle: Candle) -> list[Fill]:
        """Match resting orders on ``candle``, then update the last price; return fills."""
        if self._dms_deadline_ms is not None:  # ``_check_dead_man_switch``'s own test
            self._check_dead_man_switch()
        symbol = candle.symbol
        inst = self._instruments.get(symbol)
        if inst is None:
            inst = self._instrument(symbol)  # raises UnknownSymbol
        history = self._candles.get(symbol)
        if history is None:
            history = self._candles[symbol] = deque(maxlen=_CANDLE_HISTORY)
        history.append(candle)
        traits = self._traits_of  # ``_traits()``, its call only when the class changed
        if traits[0] is not type(self):
            traits = self._traits()
        if not self._book.has_open_for(symbol) and not (traits[2] and self._watches(symbol)):
            # nothing to match and no account check: only the last price moves
            self._last.set(symbol, candle.close)
            return []
        resting = self._book.open_for(symbol)
        bar = Bar.from_candle(candle)
        fills = [f for o in resting if (f := self._match(o, bar, inst))]
        self._last.set(candle.symbol, bar.close)
        fills.extend(self._after_candle(bar, inst))
        return fills

    def last_price(self, symbol: str) -> Decimal | None:
        """Return the last known price (close of the last candle) for ``symbol``."""
        return self._last.get(symbol)

    async def get_server_time_ms(self) -> int:
        """Return the injected clock's time in milliseconds."""
        return self._clock.time_ms()

    async def get_instruments(self) -> dict[str, Instrument]:
        """Return the instruments this venue lists."""
        return dict(self._instruments)

    async def get_klines(
        self, symbol: str, interval: str, limit: int = 500, start_ms: int | None = None
    ) -> list[Candle]:
        """Return candles fed so far for ``symbol`` (``interval`` is whatever was fed)."""
        self._instrument(symbol)
        candles = list(self._candles.get(symbol, ()))
        if start_ms is not None:
            return [c for c in candles if c.open_time_ms >= start_ms][:limit]
        return candles[-limit:] if limit > 0 else []

    async def get_ticker_price(self, symbol: str) -> Decimal:
        """Return the last price; raise ``StaleDataError`` before the first candle."""
        self._instrument(symbol)
        price = self._last.get(symbol)
        if price is None:
            raise StaleDataError(f"{self.name}: no price for {symbol} yet")
        return price

    # ---------------------------------------------------------------------- orders

    async def place_order(self, intent: OrderIntent) -> Order:
        """Validate, admit and either fill (market) or rest the order; return a snapshot."""
        if self._dms_deadline_ms is not None:
            self._check_dead_man_switch()
        inst = self._instruments.get(intent.symbol) or self._instrument(intent.symbol)
        book = self._book
        if book.get(intent.client_order_id) is not None:
            raise DuplicateOrder(
                f"{self.name}: client order id {intent.client_order_id} already used",
                client_order_id=intent.client_order_id,
                venue=self.name,
            )
        now: int | None = None
        if intent.order_type is _MARKET:  # ``_new_order`` and ``_reference_price``, inline:
            now = self._clock.time_ms()  # no limit or stop price; the slipped last price
            order = Order(
                intent.client_order_id, intent.symbol, intent.side, _MARKET,
                intent.quantity, _NEW, None, None, intent.reduce_only,
                str(next(self._order_seq)), ZERO, ZERO, now, now,
            )  # fmt: skip
            last = self._last.get(order.symbol)
            if last is None:
                raise OrderRejected(
                    f"{self.name}: no price for {order.symbol} yet", venue=self.name
                )
            price = slipped(last, order.side, self._slippage, inst.tick_size)
        else:
            order = self._new_order(intent, inst)
            price = self._reference_price(order, inst)
        check_order(inst, order.quantity, price, reduce_only=order.reduce_only)
        order.quantity = self._admit(order, inst, price)
        book.add(order)
        if order.order_type is _MARKET:  # placed and filled at one time (``now``)
            self._execute(order, inst, order.quantity, price, is_maker=False, now=now)
        return snapshot(order)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel an open order; raise ``OrderNotFound`` if it is unknown or finished."""
        self._check_dead_man_switch()
        self._instrument(symbol)
        order = self._book.get(client_order_id)
        if order is None or order.symbol != symbol:
            raise OrderNotFound(f"{self.name}: unknown order {client_order_id}", venue=self.name)
        if order.status.is_terminal:
            raise OrderNotFound(
                f"{self.name}: order {client_order_id} is already {order.status}", venue=self.name
            )
        self._finish(order, OrderStatus.CANCELED)
        return snapshot(order)

    async def cancel_all_orders(self, symbol: str) -> list[Order]:
        """Cancel every open order on ``symbol``; return them."""
        self._check_dead_man_switch()
        self._instrument(symbol)
        return [
            snapshot(self._finish(o, OrderStatus.CANCELED)) for o in self._book.open_for(symbol)
        ]

    async def get_order(self, symbol: str, client_order_id: str) -> Order | None:
        """Return a snapshot of the order, or None if this venue never saw it."""
        self._check_dead_man_switch()
        order = self._book.get(client_order_id)
        if order is None or order.symbol != symbol:
            return None
        return snapshot(order)

    async def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return open orders, for one symbol or all."""
        self._check_dead_man_switch()
        live = self._book.all_open() if symbol is None else self._book.open_for(symbol)
        return [snapshot(o) for o in live]

    def has_open_orders(self) -> bool:
        """True when any order rests (sync; the backtest driver asks before skipping)."""
        return self._book.has_open()

    def retained(self) -> dict[str, int]:
        """How many orders and fills the simulator keeps in memory (bounded)."""
        return self._book.retained()

    def keep_history(self, final_orders: int, fills_per_symbol: int) -> None:
        """Narrow how many final orders, and fills per symbol, stay queryable (by default
        ``book.MAX_FINAL_ORDERS`` and ``book.MAX_FILLS_PER_SYMBOL``)."""
        self._book.narrow(final_orders, fills_per_symbol)

    def resting_orders(self) -> list[Order]:
        """The live open orders of every symbol (sync, not copies: read, never change)."""
        return self._book.all_open()

    async def get_fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        """Return fills on ``symbol`` at or after ``since_ms``."""
        if self._dms_deadline_ms is not None:  # ``_check_dead_man_switch``'s own test
            self._check_dead_man_switch()
        return self._book.fills(symbol, since_ms)

    def fill_count(self, symbol: str) -> int | None:
        """How many fills ``get_fills`` has had for ``symbol`` so far (sync).

        Unchanged, ``get_fills`` returns nothing it did not return before, so the OMS
        need not read it (``OrderManager.sync_fills``). None for a subclass that serves
        fills its own way. Checks the dead-man switch, as every call to the venue does.
        """
        if self._dms_deadline_ms is not None:  # ``_check_dead_man_switch``'s own test
            self._check_dead_man_switch()
        traits = self._traits_of  # ``_traits()``, its call only when the class changed
        if traits[0] is not type(self):
            traits = self._traits()
        # ``self._book.fill_total(symbol)``, read directly (one call less per check)
        return self._book.fill_totals.get(symbol, 0) if traits[1] else None

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        """Cancel all open orders unless refreshed within ``timeout_seconds`` (0 = off)."""
        self._check_dead_man_switch()
        if timeout_seconds <= 0:
            self._dms_deadline_ms = None
        else:
            self._dms_deadline_ms = self._clock.time_ms() + timeout_seconds * 1000

    async def close(self) -> None:
        """Release nothing: the simulator holds no connections."""

    # -------------------------------------------------------------------- internals

    def _instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            known = ", ".join(sorted(self._instruments))
            raise UnknownSymbol(
                f"{self.name}: unknown symbol {symbol!r}; known: {known}", venue=self.name
            )
        return inst

    def _new_order(self, intent: OrderIntent, inst: Instrument) -> Order:
        price = stop = None
        otype = intent.order_type
        if otype is _LIMIT or otype is _STOP_LIMIT:
            if intent.price is None:
                raise OrderRejected(f"{self.name}: {otype} order needs a price", venue=self.name)
            price = round_price(intent.price, inst.tick_size)
        if otype is _STOP_MARKET or otype is _STOP_LIMIT:
            if intent.stop_price is None:
                raise OrderRejected(
                    f"{self.name}: {otype} order needs a stop price", venue=self.name
                )
            stop = round_price(intent.stop_price, inst.tick_size)
        now = self._clock.time_ms()
        return Order(
            intent.client_order_id, intent.symbol, intent.side, intent.order_type,
            intent.quantity, _NEW, price, stop, intent.reduce_only,
            str(next(self._order_seq)), ZERO, ZERO, now, now,
        )  # fmt: skip

    def _reference_price(self, order: Order, inst: Instrument) -> Decimal:
        """Return the price used for filters and funds: limit, stop or slipped market."""
        if order.price is not None:
            return order.price
        if order.stop_price is not None:
            return slipped(order.stop_price, order.side, self._slippage, inst.tick_size)
        last = self._last.get(order.symbol)
        if last is None:
            raise OrderRejected(f"{self.name}: no price for {order.symbol} yet", venue=self.name)
        return slipped(last, order.side, self._slippage, inst.tick_size)

    def _match(self, order: Order, bar: Bar, inst: Instrument) -> Fill | None:
        otype = order.order_type
        if otype is _LIMIT or (otype is _STOP_LIMIT and order.client_order_id in self._triggered):
            assert order.price is not None
            if not limit_crossed(order.side, order.price, bar):
                return None
            price, is_maker = order.price, True
        else:
            assert order.stop_price is not None
            base = stop_trigger_price(order.side, order.stop_price, bar)
            if base is None:
                return None
            price, is_maker = slipped(base, order.side, self._slippage, inst.tick_size), False
            if otype is _STOP_LIMIT:
                limited = self._stop_limit_price(order, base, price)
                if limited is None:
                    return None
                price = limited
        self._release(order)
        qty = min(self._fillable(order, price, is_maker), order.remaining)
        if qty <= 0:
            self._finish(order, _EXPIRED)
            return None
        return self._execute(order, inst, qty, price, is_maker=is_maker)

    def _stop_limit_price(self, order: Order, base: Decimal, price: Decimal) -> Decimal | None:
        """Fill price of a STOP_LIMIT whose stop traded at ``base``; None if it must rest.

        The triggered limit trades at once, at the slipped trigger price but never beyond
        its limit, when the trigger price is within the limit. A bar that gapped through
        the limit leaves it resting as a plain limit; since the path inside the bar is
        unknown it can fill from the next bar on, never on this one (conservative).
        """
        limit = order.price
        assert limit is not None
        if order.side is _SELL:
            if base < limit:
                self._triggered.add(order.client_order_id)
                return None
            return max(price, limit)
        if base > limit:
            self._triggered.add(order.client_order_id)
            return None
        return min(price, limit)

    def _execute(
        self,
        order: Order,
        inst: Instrument,
        qty: Decimal,
        price: Decimal,
        *,
        is_maker: bool,
        now: int | None = None,
    ) -> Fill:
        """Fill ``qty`` of ``order`` at ``price``; the rest, if any, expires.

        ``now``: the clock's time in ms, read just now by the caller (else read here once:
        the order's final update and the fill carry the same time).
        """
        if now is None:
            now = self._clock.time_ms()
        costs = self.costs  # ``costs.fee(qty * price, maker=is_maker)``, without the call
        notional = qty * price  # computed once: the fee's base and the cash moved
        fee = notional * (costs.maker_fee if is_maker else costs.taker_fee) + self.fixed_fee
        self._settle(order, inst, qty, price, fee, notional)
        filled = order.filled_qty + qty
        if order.filled_qty:
            order.avg_price = (order.avg_price * order.filled_qty + price * qty) / filled
        else:  # the first fill: its price is the average
            order.avg_price = price
        order.filled_qty = filled
        done = _FILLED if filled >= order.quantity else _EXPIRED
        self._finish(order, done, now)
        fill = _new_fill(
            f"{self.name}-{next(self._trade_seq)}", order.client_order_id, order.symbol,
            order.side, qty, price, fee, inst.quote, now, is_maker, order.reduce_only,
        )  # fmt: skip
        self._book.add_fill(fill)
        return fill

    def _finish(self, order: Order, status: OrderStatus, now: int | None = None) -> Order:
        """Move ``order`` to a terminal ``status`` and free its reservation; return it
        (``now``: the clock's time in ms, read just now by the caller)."""
        self._release(order)
        if self._triggered:
            self._triggered.discard(order.client_order_id)
        order.status = status
        order.updated_ms = self._clock.time_ms() if now is None else now
        self._book.close(order)
        return order

    def _check_dead_man_switch(self) -> None:
        """Cancel every open order once the dead-man switch deadline has passed."""
        deadline = self._dms_deadline_ms
        if deadline is None or self._clock.time_ms() < deadline:
            return
        self._dms_deadline_ms = None
        for order in self._book.all_open():
            self._finish(order, OrderStatus.CANCELED)

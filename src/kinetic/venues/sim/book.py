"""Order and fill storage with per-symbol open-order indexes for fast matching."""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from kinetic.domain import Fill, Order, OrderStatus

# A simulator that runs for months (paper mode) must not keep its whole history: the
# newest final orders and fills stay queryable, older ones are forgotten, as a venue's
# order and trade history is only queried for recent entries.
MAX_FINAL_ORDERS = 20_000
MAX_FILLS_PER_SYMBOL = 20_000
_FINAL = frozenset(s for s in OrderStatus if s.is_terminal)  # ``is_terminal``, no call


class OrderBook:
    """Keep orders by client id (open ones, and the newest ``max_final`` final ones), open
    orders by symbol, and the newest fills by symbol (``max_fills`` to twice as many)."""

    def __init__(self) -> None:
        # read at construction: a test may narrow the module's windows before it
        self.max_final = MAX_FINAL_ORDERS
        self.max_fills = MAX_FILLS_PER_SYMBOL
        self._orders: dict[str, Order] = {}
        # final client ids, oldest first; an OrderedDict drops its oldest in O(1) (a dict's
        # first key is found past every slot deleted before it)
        self._final: OrderedDict[str, None] = OrderedDict()
        self._open: dict[str, dict[str, Order]] = {}
        self._fills: dict[str, list[Fill]] = {}
        self._fill_ts: dict[str, list[int]] = {}  # per symbol, while times never go back
        # fills ever added per symbol (public: the venue's ``fill_count`` reads it as is)
        self.fill_totals: dict[str, int] = {}

    def narrow(self, final_orders: int, fills_per_symbol: int) -> None:
        """Keep at most ``final_orders`` final orders and ``fills_per_symbol`` fills (to
        twice as many, trimmed in batches) from now on; the excess goes with the next
        order retired or fill added."""
        if final_orders < 1 or fills_per_symbol < 1:
            raise ValueError("a history window keeps at least one order and one fill")
        self.max_final, self.max_fills = final_orders, fills_per_symbol

    def retained(self) -> dict[str, int]:
        """How many orders and fills this book keeps (bounded, not the whole history)."""
        return {
            "orders": len(self._orders),
            "open": sum(len(v) for v in self._open.values()),
            "fills": sum(len(v) for v in self._fills.values()),
        }

    def get(self, client_order_id: str) -> Order | None:
        """Return the live order object for ``client_order_id`` (not a copy)."""
        return self._orders.get(client_order_id)

    def add(self, order: Order) -> None:
        """Store ``order``; index it as open unless it is terminal."""
        self._orders[order.client_order_id] = order
        if order.status not in _FINAL:
            by_id = self._open.get(order.symbol)  # ``setdefault``, without a dict per call
            if by_id is None:
                by_id = self._open[order.symbol] = {}
            by_id[order.client_order_id] = order
        else:
            self._retire(order.client_order_id)

    def close(self, order: Order) -> None:
        """Drop ``order`` from the open index (it stays queryable by client id a while)."""
        by_id = self._open.get(order.symbol)
        if by_id is not None:
            by_id.pop(order.client_order_id, None)
        final = self._final  # ``_retire``, inline (one per order)
        final[order.client_order_id] = None
        while len(final) > self.max_final:  # once, unless the window was narrowed
            self._orders.pop(final.popitem(False)[0], None)

    def _retire(self, client_order_id: str) -> None:
        self._final[client_order_id] = None
        final = self._final
        while len(final) > self.max_final:  # once, unless the window was narrowed
            # the oldest (``last=False``, positional: no keyword parsing per order)
            self._orders.pop(final.popitem(False)[0], None)

    def open_for(self, symbol: str) -> list[Order]:
        """Return the live open orders for ``symbol``, oldest first."""
        return list(self._open.get(symbol, {}).values())

    def has_open_for(self, symbol: str) -> bool:
        """True when an order of ``symbol`` is open (no list built)."""
        return bool(self._open.get(symbol))

    def has_open(self) -> bool:
        """True when any order of any symbol is open."""
        return any(self._open.values())

    def all_open(self) -> list[Order]:
        """Return the live open orders of every symbol."""
        return [o for by_id in self._open.values() for o in by_id.values()]

    def add_fill(self, fill: Fill) -> None:
        """Record ``fill`` (the oldest go once a symbol holds twice the limit)."""
        symbol, ts = fill.symbol, fill.ts_ms
        fills = self._fills.get(symbol)  # ``setdefault``, without a list per call
        if fills is None:
            fills = self._fills[symbol] = []
        fills.append(fill)
        self.fill_totals[symbol] = self.fill_totals.get(symbol, 0) + 1
        times = self._fill_ts.get(symbol)
        if times is None:
            self._fill_ts[symbol] = times = [ts]
        elif times and ts >= times[-1]:
            times.append(ts)
        else:  # the clock went back: fall back to scanning this symbol's fills
            times.clear()
        keep = self.max_fills
        if len(fills) > 2 * keep:  # in batches: amortised O(1) per fill
            del fills[:-keep]
            if times:
                del times[:-keep]

    def fill_total(self, symbol: str) -> int:
        """How many fills were ever added for ``symbol`` (moves with every new one)."""
        return self.fill_totals.get(symbol, 0)

    def fills(self, symbol: str, since_ms: int = 0) -> list[Fill]:
        """Return fills for ``symbol`` at or after ``since_ms``, oldest first."""
        fills = self._fills.get(symbol, [])
        times = self._fill_ts.get(symbol)
        if times and len(times) == len(fills):  # sorted by time: binary search
            return fills[bisect_left(times, since_ms) :]
        return [f for f in fills if f.ts_ms >= since_ms]


def _copier() -> Callable[[Order], Order]:
    """Build ``snapshot``: ``Order(*every field of order)``, as a new ``Order`` (mutable: no
    ``__init__`` is needed) whose slots are set one by one, in about half the time."""
    body = "".join(f"    new.{f.name} = order.{f.name}\n" for f in fields(Order))
    namespace: dict[str, Any] = {}
    source = f"def snapshot(order):\n    new = _new(_Order)\n{body}    return new\n"
    exec(source, {"_new": object.__new__, "_Order": Order}, namespace)  # noqa: S102
    copy: Callable[[Order], Order] = namespace["snapshot"]
    copy.__doc__ = "Return a copy of ``order`` so callers cannot mutate the venue's state."
    return copy


snapshot = _copier()

"""The OMS's window on its orders: which are live, which final ones it still answers for,
and when a final order is forgotten (all its fills seen), so memory stays flat.

``OrderWindow`` is the base of ``OrderManager`` (``kinetic.execution.oms``, through
``oms_reconcile.Reconciler``); the attributes it declares are the OMS's.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

from kinetic.domain import ZERO, Order, OrderStatus, Side

# module globals: ``OrderStatus.X`` takes ``EnumType.__getattr__``'s slow hook (~1 us)
_FILLED, _UNKNOWN = OrderStatus.FILLED, OrderStatus.UNKNOWN
_FINAL = frozenset(s for s in OrderStatus if s.is_terminal)
_FILLING = (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
RECENT_REASONS = 256  # reasons of orders the fill sync just forgot
RECENT_FINAL = 256  # final orders still answered by ``order()`` after they left ``_orders``


class OrderWindow:
    """Live orders, the recently final ones and their reasons, for ``OrderManager``."""

    # live orders only: not final, or final with fills still to be seen. A step's scans
    # (open_orders, has_open_orders, awaiting_fills) are bounded by what is live
    _orders: dict[str, Order]
    # the last RECENT_FINAL orders that left it (ordered: the oldest goes in O(1))
    _final: OrderedDict[str, Order]
    _reasons: dict[str, str]
    _recent_reasons: OrderedDict[str, str]
    _seen_trades: set[tuple[str, str]]  # (symbol, trade id)
    _fill_cursor: dict[str, int]
    # what the venue last reported filled per tracked order (its trades may lag)
    _venue_filled: dict[str, Decimal]
    _synced_at: dict[str, int | None]  # symbol -> fill_count read in full

    def order(self, client_order_id: str) -> Order | None:
        """A live order, or one of the last ``RECENT_FINAL`` that became final."""
        order = self._orders.get(client_order_id)
        return order if order is not None else self._final.get(client_order_id)

    def retained(self) -> dict[str, int]:
        """How many objects of each kind this OMS keeps in memory (bounded by what is live)."""
        return {
            "orders": len(self._orders),
            "final": len(self._final),
            "reasons": len(self._reasons),
            "recent_reasons": len(self._recent_reasons),
            "venue_filled": len(self._venue_filled),
            "seen_trades": len(self._seen_trades),
            "fill_cursors": len(self._fill_cursor),
        }

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o
            for o in self._orders.values()
            if o.status not in _FINAL and (symbol is None or o.symbol == symbol)
        ]

    def idle(self) -> bool:
        """True when no order is tracked: none open and none awaiting fills."""
        return not self._orders

    def has_open_orders(self) -> bool:
        """True while any order of this engine is not final."""
        return any(o.status not in _FINAL for o in self._orders.values())

    def has_unknown(self) -> bool:
        """True while an order's placement outcome is unknown (it may have filled)."""
        orders = self._orders  # UNKNOWN is never final: the live orders only
        return bool(orders) and any(o.status is _UNKNOWN for o in orders.values())

    def reason(self, client_order_id: str) -> str:
        """Why the order was sent (also for an order just forgotten by the fill sync)."""
        return self._reasons.get(client_order_id) or self._recent_reasons.get(client_order_id, "")

    def awaiting_fills(self, symbol: str) -> bool:
        """True while the venue reports an order filled but not all its fills were seen."""
        return any(o.symbol == symbol and self._awaiting(o) for o in self._orders.values())

    def unseen_fills(self, symbol: str) -> Decimal:
        """Net quantity the venue reports filled on ``symbol``'s tracked orders whose
        trades were not seen yet (buys positive, sells negative).

        The venue's order status runs ahead of its trade list: those trades still come
        through ``sync_fills`` (the engine keeps syncing while ``awaiting_fills``), so
        the venue's position already holds them while the books do not yet.
        """
        net = ZERO
        for order in self._orders.values():
            if order.symbol == symbol:
                net += _sign(order.side) * max(ZERO, self._reported(order) - order.filled_qty)
        return net

    def _reported(self, order: Order) -> Decimal:
        """What the venue reported filled of ``order`` (at least what we have seen)."""
        venue = self._venue_filled.get(order.client_order_id)
        if order.status is _FILLED and venue is None:
            return order.quantity
        # the venue's figure wins over the intent's size: a reduce-only close is FILLED
        # for what it reduced (the sim and Binance cut it to the position), not for more
        return max(order.filled_qty, venue if venue is not None else ZERO)

    def _venue_reports(self, order: Order, venue: Order) -> None:
        if venue.filled_qty > ZERO:
            cid = order.client_order_id
            self._venue_filled[cid] = max(self._venue_filled.get(cid, ZERO), venue.filled_qty)

    def _awaiting(self, order: Order) -> bool:
        if order.status in _FILLING and order.filled_qty < order.quantity:
            return True  # ``_awaiting(order)``, inline (every sync asks)
        return self._reported(order) > order.filled_qty

    def _prune(self, symbol: str) -> None:
        """Forget final orders whose fills were all seen, so memory stays flat."""
        done: list[str] = []  # a loop, not a comprehension: no function call per sync
        venue_filled = self._venue_filled
        for key, order in self._orders.items():
            status = order.status
            if order.symbol != symbol or status not in _FINAL:
                continue
            # ``_awaiting(order)``, inline: fills of it still to be seen keep it
            filled = order.filled_qty
            if status in _FILLING and filled < order.quantity:
                continue
            venue = venue_filled.get(key)  # ``_reported(order) > filled``
            if venue is None:
                if (order.quantity if status is _FILLED else ZERO) > filled:
                    continue
            elif venue > filled:
                continue
            done.append(key)
        for key in done:
            self._forget(key)
        if len(self._seen_trades) > 10_000:
            self._seen_trades.clear()
            self._synced_at.clear()  # seen fills may be read (and recorded) again

    def _settle(self, order: Order) -> None:
        """Forget ``order`` now if it is final and all its fills were seen (journaled)."""
        if order.status in _FINAL and not self._awaiting(order):
            self._forget(order.client_order_id)

    def _forget(self, key: str) -> None:
        """Move a final order out of the live set; its reason and the order stay a while."""
        order = self._orders.pop(key, None)
        if order is None:
            return
        # the engine applies a sync's fills after it returns: keep their reasons
        self._recent_reasons[key] = self._reasons.pop(key, "")
        if len(self._recent_reasons) > RECENT_REASONS:
            self._recent_reasons.popitem(False)  # the oldest (positional: no keyword parsing)
        self._venue_filled.pop(key, None)
        self._final[key] = order  # ``order()`` still answers for the recent ones
        if len(self._final) > RECENT_FINAL:
            self._final.popitem(False)  # the oldest


def _sign(side: Side) -> int:
    return 1 if side is Side.BUY else -1

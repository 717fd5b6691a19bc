"""The OMS's start-up reconcile: journaled orders brought in line with the venue.

``Reconciler`` is a base of ``OrderManager`` (``kinetic.execution.oms``); the attributes
it declares are the OMS's.
"""

from __future__ import annotations

from typing import Any

from kinetic.clock import Clock
from kinetic.domain import Order, OrderStatus, OrderType
from kinetic.execution.oms_window import OrderWindow
from kinetic.execution.recorder import Recorder
from kinetic.venues.base import SpotVenue

# resting protective orders: kept at start-up (every other open order is a stale entry)
_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
STOP_REASON = "stop_loss"  # every reduce-only stop of ours protects a position
# start-up looks up orders journaled FILLED this recently whose trades were not all seen
FILLED_LOOKBACK_MS = 86_400_000


class Reconciler(OrderWindow):
    """Start-up reconcile and fill cursors, for ``OrderManager``."""

    engine: str
    venue: SpotVenue
    recorder: Recorder
    clock: Clock
    log: Any

    async def reconcile(self) -> list[Order]:
        """Bring every non-final journaled order in line with the venue.

        Orders journaled FILLED in the last ``FILLED_LOOKBACK_MS`` whose fills were not all
        journaled are looked up too: they stay tracked (``awaiting_fills``) until their
        trades arrive.
        Every tracked order's seen quantity is its journaled fills' total, and the
        venue's filled quantity is kept (``unseen_fills``).
        """
        changed: list[Order] = []
        since_ms = self.clock.time_ms() - FILLED_LOOKBACK_MS
        for order in await self.recorder.unsettled_orders(self.engine, since_ms):
            was_filled = order.status is OrderStatus.FILLED
            found = await self.venue.get_order(order.symbol, order.client_order_id)
            if found is None and was_filled:
                continue  # the venue has forgotten it: nothing more to learn or await
            if found is None:
                order.status = OrderStatus.REJECTED
                note = "not found on venue at start-up"
            elif not found.status.is_terminal and order.order_type not in _STOPS:
                self._venue_reports(order, found)
                done = await self.venue.cancel_order(order.symbol, order.client_order_id)
                self._venue_reports(order, done)
                order.status = OrderStatus.CANCELED
                note = "stale entry order cancelled at start-up"
            else:
                order.status = found.status
                order.venue_order_id = found.venue_order_id or order.venue_order_id
                self._venue_reports(order, found)
                note = f"adopted with status {found.status}"
            # a protective stop keeps its reason (its fill closes the trade as a stop-loss);
            # other orders carry what start-up did with them
            reason = STOP_REASON if order.order_type in _STOPS and order.reduce_only else note
            self._track(order)
            if order.client_order_id in self._orders:
                self._reasons[order.client_order_id] = reason
            order.updated_ms = self.clock.time_ms()
            await self.recorder.record_order(self.engine, order, reason)
            if reason != note:
                self.log.info("journaled order at start-up", client_order_id=order.client_order_id,
                              symbol=order.symbol, note=note)  # fmt: skip
            changed.append(order)
        return changed

    def _track(self, order: Order) -> None:
        """Keep ``order`` in memory while it is open or its fills are still to be seen.

        On a supervisor restart the memory still holds the previous run's orders: one
        the venue has since finished must leave it, or it would look open forever.
        """
        if order.status.is_terminal and not self._awaiting(order):
            self._orders.pop(order.client_order_id, None)
            self._venue_filled.pop(order.client_order_id, None)
            self._reasons.pop(order.client_order_id, None)
        else:
            self._orders[order.client_order_id] = order

    def read_fills_from(self, symbol: str, since_ms: int) -> None:
        """Read ``symbol``'s fills from ``since_ms`` on (start-up), unless already further."""
        if since_ms > self._fill_cursor.get(symbol, 0):
            self._fill_cursor[symbol] = since_ms

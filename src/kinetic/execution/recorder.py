"""Recorder: where engines write their orders, fills, positions, trades and snapshots.

The daemon records into the database (``kinetic.storage.recorder.DbRecorder``); tests
and the backtester may use the in-memory ``MemoryRecorder``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from kinetic.domain import ClosedTrade, EquitySnapshot, Fill, Order, OrderStatus, Position
from kinetic.execution.ids import new_instance_id, start_stamp


class Recorder(Protocol):
    async def record_order(self, engine: str, order: Order, reason: str = "") -> None: ...

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        """Store a fill; return False if it was already stored."""
        ...

    async def record_position(self, engine: str, position: Position) -> None: ...

    async def delete_position(self, engine: str, symbol: str) -> None: ...

    async def record_trade(self, trade: ClosedTrade) -> None: ...

    async def record_equity(self, snapshot: EquitySnapshot) -> None: ...

    async def record_event(
        self, kind: str, message: str, engine: str | None = None, data: dict[str, Any] | None = None
    ) -> None: ...

    async def open_orders(self, engine: str) -> list[Order]: ...

    async def unsettled_orders(self, engine: str, since_ms: int) -> list[Order]:
        """The orders start-up reconciles with the venue, oldest first.

        Every non-final order, and every order journaled FILLED (updated since
        ``since_ms``) whose journaled fills fall short of its quantity: the venue said it
        filled, but not all its trades were seen. ``filled_qty`` is the total of the
        order's journaled fills (a crash between the fill row and the order row leaves the
        order row behind), never less than the order row's.
        """
        ...

    async def positions(self, engine: str) -> list[Position]: ...

    async def order_count(self, engine: str) -> int: ...

    async def client_id_start(self, engine: str, now_s: float) -> tuple[str, int]:
        """Return this installation's instance id and a new start stamp for ``engine``."""
        ...

    async def fill_checkpoints(self, engine: str) -> dict[str, int]:
        """Per symbol, where the start-up takeover reads the venue's fills from (ms).

        The latest journaled fill's time; for a symbol with orders but no fill yet, the
        first order's creation time. Symbols the engine never traded are absent.
        """
        ...

    async def realized_pnl(self, engine: str) -> Decimal:
        """The engine's realized PnL over its closed trades (net of fees)."""
        ...


@dataclass
class MemoryRecorder:
    """Keep everything in lists and dicts (tests, backtests)."""

    orders: dict[str, tuple[str, Order]] = field(default_factory=dict)
    fills: dict[tuple[str, str, str], Fill] = field(default_factory=dict)
    position_rows: dict[tuple[str, str], Position] = field(default_factory=dict)
    trades: list[ClosedTrade] = field(default_factory=list)
    equity: list[EquitySnapshot] = field(default_factory=list)
    events: list[tuple[str, str, str | None, dict[str, Any]]] = field(default_factory=list)
    instance_id: str = field(default_factory=new_instance_id)
    funding_marks: dict[str, str] = field(default_factory=dict)
    id_stamps: dict[str, int] = field(default_factory=dict)

    async def record_order(self, engine: str, order: Order, reason: str = "") -> None:
        self.orders[order.client_order_id] = (engine, _copy_order(order))

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        key = (engine, fill.symbol, fill.trade_id)
        if key in self.fills:
            return False
        self.fills[key] = fill
        return True

    async def record_position(self, engine: str, position: Position) -> None:
        self.position_rows[(engine, position.symbol)] = position

    async def delete_position(self, engine: str, symbol: str) -> None:
        self.position_rows.pop((engine, symbol), None)

    async def record_trade(self, trade: ClosedTrade) -> None:
        self.trades.append(trade)

    async def record_equity(self, snapshot: EquitySnapshot) -> None:
        self.equity.append(snapshot)

    async def record_event(
        self, kind: str, message: str, engine: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        self.events.append((kind, message, engine, dict(data or {})))

    async def open_orders(self, engine: str) -> list[Order]:
        return [o for e, o in self.orders.values() if e == engine and not o.status.is_terminal]

    async def unsettled_orders(self, engine: str, since_ms: int) -> list[Order]:
        journaled: dict[str, Decimal] = {}
        for (e, _, _), fill in self.fills.items():
            if e == engine:
                cid = fill.client_order_id
                journaled[cid] = journaled.get(cid, Decimal(0)) + fill.quantity
        out: list[Order] = []
        for e, order in sorted(self.orders.values(), key=lambda r: r[1].created_ms):
            if e != engine:
                continue
            filled = max(order.filled_qty, journaled.get(order.client_order_id, Decimal(0)))
            if order.status.is_terminal and not (
                order.status is OrderStatus.FILLED
                and order.updated_ms >= since_ms
                and filled < order.quantity
            ):
                continue
            copy = _copy_order(order)
            copy.filled_qty = filled
            out.append(copy)
        return out

    async def positions(self, engine: str) -> list[Position]:
        return [p for (e, _), p in self.position_rows.items() if e == engine]

    async def order_count(self, engine: str) -> int:
        return sum(1 for e, _ in self.orders.values() if e == engine)

    async def client_id_start(self, engine: str, now_s: float) -> tuple[str, int]:
        stamp = start_stamp(now_s, self.id_stamps.get(engine, -1))
        self.id_stamps[engine] = stamp
        return self.instance_id, stamp

    async def funding_checkpoint(self, engine: str) -> str | None:
        return self.funding_marks.get(engine)

    async def save_funding_checkpoint(self, engine: str, value: str) -> None:
        self.funding_marks[engine] = value

    async def fill_checkpoints(self, engine: str) -> dict[str, int]:
        last: dict[str, int] = {}
        for (e, symbol, _), fill in self.fills.items():
            if e == engine:
                last[symbol] = max(last.get(symbol, 0), fill.ts_ms)
        first: dict[str, int] = {}
        for e, order in self.orders.values():
            if e == engine:
                known = first.get(order.symbol, order.created_ms)
                first[order.symbol] = min(known, order.created_ms)
        return {**first, **last}

    async def realized_pnl(self, engine: str) -> Decimal:
        return sum((t.pnl for t in self.trades if t.engine == engine), Decimal(0))

    def event_kinds(self) -> list[str]:
        return [k for k, *_ in self.events]


def _copy_order(order: Order) -> Order:
    return Order(
        order.client_order_id,
        order.symbol,
        order.side,
        order.order_type,
        order.quantity,
        order.status,
        order.price,
        order.stop_price,
        order.reduce_only,
        order.venue_order_id,
        order.filled_qty,
        order.avg_price,
        order.created_ms,
        order.updated_ms,
    )

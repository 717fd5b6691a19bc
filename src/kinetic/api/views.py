"""Domain objects as the API shows them (plain dicts; money as numbers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kinetic.domain import ZERO, Order, Position, PositionSide
from kinetic.supervisor.orchestrator import Orchestrator


def position_view(engine: str, pos: Position, price: Decimal | None) -> dict[str, Any]:
    sign = Decimal(1) if pos.side is PositionSide.LONG else Decimal(-1)
    unrealized = (price - pos.entry_price) * pos.quantity * sign if price is not None else ZERO
    return {
        "engine": engine,
        "symbol": pos.symbol,
        "side": str(pos.side),
        "quantity": pos.quantity,
        "entry_price": pos.entry_price,
        "mark_price": price,
        "stop_price": pos.stop_price,
        "take_profit": pos.take_profit,
        "liquidation_price": pos.liquidation_price,
        "leverage": pos.leverage,
        "unrealized_pnl": unrealized,
        "notional": (price or pos.entry_price) * pos.quantity,
        "trailing_active": pos.trailing_active,
        "opened_ms": pos.opened_ms,
        "entry_reason": pos.entry_reason,
    }


def positions(orch: Orchestrator) -> list[dict[str, Any]]:
    """Every open position of every engine, from the engines' books."""
    out = []
    for name, engine in engines_of(orch).items():
        for symbol, pos in sorted(engine.d.positions.positions.items()):
            out.append(position_view(name, pos, engine.price(symbol)))
    return out


def order_view(engine: str, order: Order, reason: str = "") -> dict[str, Any]:
    return {
        "engine": engine,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": str(order.side),
        "type": str(order.order_type),
        "status": str(order.status),
        "quantity": order.quantity,
        "price": order.price,
        "stop_price": order.stop_price,
        "reduce_only": order.reduce_only,
        "filled_qty": order.filled_qty,
        "avg_price": order.avg_price,
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
        "reason": reason,
        "protective_stop": order.stop_price is not None,
    }


def open_orders(orch: Orchestrator) -> list[dict[str, Any]]:
    """Every engine's open orders, from its OMS."""
    out = []
    for name, engine in engines_of(orch).items():
        oms = engine.d.oms
        for order in oms.open_orders():
            out.append(order_view(name, order, oms.reason(order.client_order_id)))
    return out


def engines_of(orch: Orchestrator) -> dict[str, Any]:
    """The orchestrator's engines, typed loosely (the API reads their books and OMS)."""
    return dict(orch.engines)  # the daemon's engines are BaseEngines (books, OMS, prices)

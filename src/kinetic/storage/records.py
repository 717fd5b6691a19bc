"""Read models returned by repositories where no domain type fits, and mappers.

Mappers turn ORM rows into the domain dataclasses of ``kinetic.domain`` (enums and
``Decimal`` amounts) and back into column dictionaries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kinetic.domain import (
    ClosedTrade,
    EquitySnapshot,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
)
from kinetic.storage.models import (
    EquitySnapshotRow,
    EventRow,
    FillRow,
    OrderRow,
    PositionRow,
    TradeRow,
)

SENSITIVE_KEY_PARTS = ("secret", "key", "token", "password")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One audit-trail entry."""

    id: int
    ts_ms: int
    kind: str
    message: str
    engine: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredCommand:
    """One operator command row (kill switch, flatten) and what became of it."""

    id: int
    kind: str
    args: dict[str, Any]
    status: str  # pending | done | failed
    result: str
    created_ms: int
    done_ms: int


def is_sensitive_key(name: str) -> bool:
    """Return True if a key name looks like it holds a credential."""
    lowered = name.lower()
    return any(part in lowered for part in SENSITIVE_KEY_PARTS)


def scrub_secrets(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` without credential-like keys, at any depth."""
    return {k: _scrub_value(v) for k, v in data.items() if not is_sensitive_key(str(k))}


def _scrub_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return scrub_secrets(value)
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    return value


def encode_event_data(data: Mapping[str, Any] | None) -> str:
    """Scrub and JSON-encode event data (``Decimal`` and others become strings)."""
    return json.dumps(scrub_secrets(data or {}), default=str, sort_keys=True)


def order_values(engine: str, order: Order, reason: str) -> dict[str, Any]:
    """Return the ``orders`` column values for ``order``."""
    return {
        "client_order_id": order.client_order_id,
        "engine": engine,
        "symbol": order.symbol,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "quantity": order.quantity,
        "price": order.price,
        "stop_price": order.stop_price,
        "reduce_only": order.reduce_only,
        "status": order.status.value,
        "venue_order_id": order.venue_order_id,
        "filled_qty": order.filled_qty,
        "avg_price": order.avg_price,
        "reason": reason,
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
    }


def order_from_row(row: OrderRow) -> Order:
    """Build the domain ``Order`` from its row."""
    return Order(
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        quantity=row.quantity,
        status=OrderStatus(row.status),
        price=row.price,
        stop_price=row.stop_price,
        reduce_only=row.reduce_only,
        venue_order_id=row.venue_order_id,
        filled_qty=row.filled_qty,
        avg_price=row.avg_price,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


def fill_values(engine: str, fill: Fill) -> dict[str, Any]:
    """Return the ``fills`` column values for ``fill``."""
    return {
        "engine": engine,
        "trade_id": fill.trade_id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "ts_ms": fill.ts_ms,
        "is_maker": fill.is_maker,
        "reduce_only": fill.reduce_only,
    }


def fill_from_row(row: FillRow) -> Fill:
    """Build the domain ``Fill`` from its row."""
    return Fill(
        trade_id=row.trade_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        fee_asset=row.fee_asset,
        ts_ms=row.ts_ms,
        is_maker=row.is_maker,
        reduce_only=row.reduce_only,
    )


def position_values(engine: str, position: Position, updated_ms: int) -> dict[str, Any]:
    """Return the ``positions`` column values for ``position``."""
    return {
        "engine": engine,
        "symbol": position.symbol,
        "side": position.side.value,
        "quantity": position.quantity,
        "entry_price": position.entry_price,
        "stop_price": position.stop_price,
        "take_profit": position.take_profit,
        "leverage": position.leverage,
        "fees": position.fees,
        "best_price": position.best_price,
        "trailing_active": position.trailing_active,
        "liquidation_price": position.liquidation_price,
        "confidence": position.confidence,
        "entry_reason": position.entry_reason,
        "opened_ms": position.opened_ms,
        "updated_ms": updated_ms,
    }


def position_from_row(row: PositionRow) -> Position:
    """Build the domain ``Position`` from its row."""
    return Position(
        symbol=row.symbol,
        side=PositionSide(row.side),
        quantity=row.quantity,
        entry_price=row.entry_price,
        opened_ms=row.opened_ms,
        stop_price=row.stop_price,
        take_profit=row.take_profit,
        leverage=row.leverage,
        fees=row.fees,
        best_price=row.best_price,
        trailing_active=row.trailing_active,
        liquidation_price=row.liquidation_price,
        confidence=row.confidence,
        entry_reason=row.entry_reason,
    )


def trade_row(trade: ClosedTrade) -> TradeRow:
    """Build the ``trades`` row for a closed round trip."""
    return TradeRow(
        engine=trade.engine,
        symbol=trade.symbol,
        side=trade.side.value,
        quantity=trade.quantity,
        entry_price=trade.entry_price,
        exit_price=trade.exit_price,
        opened_ms=trade.opened_ms,
        closed_ms=trade.closed_ms,
        pnl=trade.pnl,
        fees=trade.fees,
        exit_reason=trade.exit_reason,
        leverage=trade.leverage,
    )


def trade_from_row(row: TradeRow) -> ClosedTrade:
    """Build the domain ``ClosedTrade`` from its row."""
    return ClosedTrade(
        engine=row.engine,
        symbol=row.symbol,
        side=PositionSide(row.side),
        quantity=row.quantity,
        entry_price=row.entry_price,
        exit_price=row.exit_price,
        opened_ms=row.opened_ms,
        closed_ms=row.closed_ms,
        pnl=row.pnl,
        fees=row.fees,
        exit_reason=row.exit_reason,
        leverage=row.leverage,
    )


def equity_from_row(row: EquitySnapshotRow) -> EquitySnapshot:
    """Build an ``EquitySnapshot`` from its row."""
    return EquitySnapshot(
        engine=row.engine,
        ts_ms=row.ts_ms,
        equity=row.equity,
        cash=row.cash,
        realized_pnl=row.realized_pnl,
        unrealized_pnl=row.unrealized_pnl,
        exposure=row.exposure,
    )


def event_from_row(row: EventRow) -> StoredEvent:
    """Build a ``StoredEvent`` from its row, decoding the JSON data."""
    data = json.loads(row.data or "{}")
    return StoredEvent(
        id=row.id,
        ts_ms=row.ts_ms,
        kind=row.kind,
        message=row.message,
        engine=row.engine,
        data=data if isinstance(data, dict) else {"value": data},
    )

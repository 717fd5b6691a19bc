"""Bounded reads from the database for the API (every query has a limit)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from kinetic.storage.db import Database
from kinetic.storage.models import EquitySnapshotRow, FillRow, OrderRow, TradeRow


async def trades(
    db: Database, engine: str | None, symbol: str | None, since_ms: int, limit: int
) -> list[dict[str, Any]]:
    """Closed round trips, newest first."""
    q = sa.select(TradeRow).where(TradeRow.closed_ms >= since_ms)
    if engine:
        q = q.where(TradeRow.engine == engine)
    if symbol:
        q = q.where(TradeRow.symbol == symbol)
    q = q.order_by(TradeRow.closed_ms.desc(), TradeRow.id.desc()).limit(limit)
    async with db.session() as session:
        rows = list(await session.scalars(q))
    return [
        {
            "id": r.id,
            "engine": r.engine,
            "symbol": r.symbol,
            "side": r.side,
            "quantity": r.quantity,
            "entry_price": r.entry_price,
            "exit_price": r.exit_price,
            "opened_ms": r.opened_ms,
            "closed_ms": r.closed_ms,
            "pnl": r.pnl,
            "fees": r.fees,
            "exit_reason": r.exit_reason,
            "leverage": r.leverage,
        }
        for r in rows
    ]


async def equity(
    db: Database, engine: str | None, since_ms: int, limit: int
) -> list[dict[str, Any]]:
    """Equity snapshots, oldest first (the newest ``limit`` of them)."""
    q = sa.select(EquitySnapshotRow).where(EquitySnapshotRow.ts_ms >= since_ms)
    if engine:
        q = q.where(EquitySnapshotRow.engine == engine)
    q = q.order_by(EquitySnapshotRow.ts_ms.desc(), EquitySnapshotRow.id.desc()).limit(limit)
    async with db.session() as session:
        rows = list(await session.scalars(q))
    return [
        {
            "engine": r.engine,
            "ts_ms": r.ts_ms,
            "equity": r.equity,
            "cash": r.cash,
            "realized_pnl": r.realized_pnl,
            "unrealized_pnl": r.unrealized_pnl,
            "exposure": r.exposure,
        }
        for r in reversed(rows)
    ]


async def recent_orders(
    db: Database, engine: str | None, symbol: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest orders with their fills and reasons."""
    q = sa.select(OrderRow)
    if engine:
        q = q.where(OrderRow.engine == engine)
    if symbol:
        q = q.where(OrderRow.symbol == symbol)
    q = q.order_by(OrderRow.created_ms.desc(), OrderRow.client_order_id.desc()).limit(limit)
    async with db.session() as session:
        orders = list(await session.scalars(q))
        ids = [o.client_order_id for o in orders]
        fills = (
            list(
                await session.scalars(
                    sa.select(FillRow)
                    .where(FillRow.client_order_id.in_(ids))
                    .order_by(FillRow.ts_ms)
                )
            )
            if ids
            else []
        )
    by_order: dict[str, list[dict[str, Any]]] = {}
    for f in fills:
        by_order.setdefault(f.client_order_id, []).append(
            {
                "trade_id": f.trade_id,
                "quantity": f.quantity,
                "price": f.price,
                "fee": f.fee,
                "fee_asset": f.fee_asset,
                "ts_ms": f.ts_ms,
                "is_maker": f.is_maker,
            }
        )
    return [
        {
            "engine": o.engine,
            "client_order_id": o.client_order_id,
            "symbol": o.symbol,
            "side": o.side,
            "type": o.order_type,
            "status": o.status,
            "quantity": o.quantity,
            "price": o.price,
            "stop_price": o.stop_price,
            "reduce_only": o.reduce_only,
            "filled_qty": o.filled_qty,
            "avg_price": o.avg_price,
            "reason": o.reason,
            "created_ms": o.created_ms,
            "updated_ms": o.updated_ms,
            "fills": by_order.get(o.client_order_id, []),
        }
        for o in orders
    ]


def decode(data: str) -> Any:
    try:
        return json.loads(data or "{}")
    except ValueError:
        return {}

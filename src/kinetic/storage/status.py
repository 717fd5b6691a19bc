"""Combined status read from the database alone.

Works whether or not the daemon runs: engine rows come from ``engine_state``, fill
and position counts from the ``fills`` and ``positions`` tables, totals from
``portfolio_state`` (falling back to the sum of engine equity and PnL), trading states
(ACTIVE / REDUCE_ONLY / HALTED with the cause) from ``trading_states``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kinetic.domain import TradingState
from kinetic.storage.db import Database
from kinetic.storage.models import (
    EngineStateRow,
    EventRow,
    FillRow,
    OrderRow,
    PortfolioStateRow,
    PositionRow,
    TradingStateRow,
)

_UNKNOWN_STATUS = "unknown"
DAEMON = "daemon"  # the daemon-wide trading-state scope


def _iso_seconds(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def _iso_ms(ms: int) -> str | None:
    return _iso_seconds(ms / 1000) if ms else None


def _opt_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _engine_entry(row: EngineStateRow | None, fills: int, positions: int) -> dict[str, Any]:
    return {
        "status": row.status if row else _UNKNOWN_STATUS,
        "last_heartbeat": _iso_seconds(row.last_heartbeat) if row else None,
        "restart_count": row.restart_count if row else 0,
        "fills": fills,
        "open_positions": positions,
        "equity_usd": float(row.equity) if row else 0.0,
        "pnl_usd": float(row.pnl) if row else 0.0,
        "last_error": row.last_error if row else None,
    }


def _position_entry(row: PositionRow) -> dict[str, Any]:
    return {
        "engine": row.engine,
        "symbol": row.symbol,
        "side": row.side,
        "quantity": float(row.quantity),
        "entry_price": float(row.entry_price),
        "stop_price": float(row.stop_price),
        "take_profit": _opt_float(row.take_profit),
        "leverage": row.leverage,
        "trailing_active": row.trailing_active,
        "opened_at": _iso_ms(row.opened_ms),
    }


async def _counts(db: Database, column: Any) -> dict[str, int]:
    query = sa.select(column, sa.func.count()).group_by(column)
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return {str(engine): int(count) for engine, count in rows}


async def read_status(db: Database) -> dict[str, Any]:
    """Return the combined status JSON (plain ``dict``), built from the DB alone."""
    async with db.session() as session:
        states = list(await session.scalars(sa.select(EngineStateRow)))
        trading = {r.scope: r for r in await session.scalars(sa.select(TradingStateRow))}
        portfolio = await session.get(PortfolioStateRow, 1)
        positions = list(
            await session.scalars(
                sa.select(PositionRow).order_by(PositionRow.engine, PositionRow.symbol)
            )
        )
    fills = await _counts(db, FillRow.engine)
    drift = await _drift(db)
    mode = await _last_mode(db)
    open_positions = await _counts(db, PositionRow.engine)
    by_name = {row.engine: row for row in states}
    names = sorted(set(by_name) | set(fills) | set(open_positions) | (set(trading) - {DAEMON}))
    daemon = _trading_entry(trading.get(DAEMON))
    engines = {
        name: _engine_entry(by_name.get(name), fills.get(name, 0), open_positions.get(name, 0))
        | {"trading_state": _trading_entry(trading.get(name), daemon["state"])}
        | {"drift": drift.get(name, NO_DRIFT)}
        for name in names
    }
    return {
        "mode": mode,
        "unsent_orders": await _unsent(db) if mode in UNSENT_MODES else {},
        "trading_state": daemon,
        "engines": engines,
        **_totals(states, portfolio),
        "positions": [_position_entry(row) for row in positions],
        "allocation": {row.engine: row.allocated_pct for row in states},
        "updated_at": _iso_ms(_latest_update(states, portfolio)),
    }


UNSENT_MODES = ("dry_run", "validate_only")


async def _last_mode(db: Database) -> str | None:
    """The mode of the daemon's last start (its ``config_loaded`` event); None if never."""
    query = (
        sa.select(EventRow.data)
        .where(EventRow.kind == "config_loaded")
        .order_by(EventRow.id.desc())
        .limit(1)
    )
    async with db.session() as session:
        raw = await session.scalar(query)
    try:
        mode = json.loads(raw).get("mode") if raw else None
    except (ValueError, AttributeError):
        return None
    return str(mode) if mode else None


async def _unsent(db: Database) -> dict[str, int]:
    """dry_run / validate_only: orders journaled NOT_SENT and VALIDATED, per status."""
    query = (
        sa.select(OrderRow.status, sa.func.count())
        .where(OrderRow.status.in_(("NOT_SENT", "VALIDATED")))
        .group_by(OrderRow.status)
    )
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return {str(status): int(count) for status, count in rows}


NO_DRIFT: dict[str, Any] = {"drifting": False, "since": None, "differences": []}


async def _drift(db: Database) -> dict[str, dict[str, Any]]:
    """Per engine, the latest drift verdict (``drift`` or ``drift_resolved`` event)."""
    newest = (
        sa.select(EventRow.engine, sa.func.max(EventRow.id).label("id"))
        .where(EventRow.kind.in_(("drift", "drift_resolved")))
        .group_by(EventRow.engine)
        .subquery()
    )
    query = sa.select(EventRow).join(newest, EventRow.id == newest.c.id)
    async with db.session() as session:
        rows = list(await session.scalars(query))
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.engine is None:
            continue
        data = json.loads(row.data or "{}")
        out[row.engine] = {
            "drifting": row.kind == "drift",
            "since": _iso_ms(row.ts_ms),
            "differences": list(data.get("differences", [])) if row.kind == "drift" else [],
        }
    return out


def _trading_entry(row: TradingStateRow | None, daemon: str | None = None) -> dict[str, Any]:
    """A scope's trading state by name with its cause; ``effective`` for an engine."""
    own = _state(row.state if row else None)
    entry: dict[str, Any] = {
        "state": str(own),
        "cause": row.cause if row else "",
        "source": row.source if row else "",
        "since": _iso_ms(row.since_ms) if row else None,
    }
    if daemon is not None:
        entry["effective"] = str(own.worst(_state(daemon)))
    return entry


def _state(name: str | None) -> TradingState:
    try:
        return TradingState(name or "ACTIVE")
    except ValueError:  # a name this build does not know: read it as the strictest
        return TradingState.HALTED


def _totals(states: list[EngineStateRow], portfolio: PortfolioStateRow | None) -> dict[str, Any]:
    if portfolio is not None:
        total_value, total_pnl = portfolio.total_value, portfolio.total_pnl
    else:
        total_value = sum((row.equity for row in states), Decimal(0))
        total_pnl = sum((row.pnl for row in states), Decimal(0))
    return {
        "total_value_usd": float(total_value),
        "total_pnl_usd": float(total_pnl),
        "circuit_breaker_active": bool(portfolio and portfolio.circuit_breaker_active),
        "circuit_breaker_until": _iso_seconds(portfolio.circuit_breaker_until)
        if portfolio
        else None,
        "circuit_breaker_reason": portfolio.circuit_breaker_reason if portfolio else "",
    }


def _latest_update(states: list[EngineStateRow], portfolio: PortfolioStateRow | None) -> int:
    stamps = [row.updated_ms for row in states]
    if portfolio is not None:
        stamps.append(portfolio.updated_ms)
    return max(stamps, default=0)

"""Repositories: one short transaction per method, domain types in and out.

The trading records (orders, fills, positions, trades, equity, events) are here; the
daemon's own state in ``state_repositories``; ``Repositories`` holds them all.

Upserts use the dialect's ``INSERT ... ON CONFLICT`` (SQLite and PostgreSQL share the
syntax), so each write is one atomic statement. Sums of money are done in Python
because SQLite stores ``Decimal`` as text.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kinetic.clock import Clock, RealClock
from kinetic.domain import ClosedTrade, EquitySnapshot, Fill, Order, OrderStatus, Position
from kinetic.storage.db import Database
from kinetic.storage.models import (
    EquitySnapshotRow,
    EventRow,
    FillRow,
    OrderRow,
    PositionRow,
    TradeRow,
)
from kinetic.storage.records import (
    StoredEvent,
    encode_event_data,
    equity_from_row,
    event_from_row,
    fill_from_row,
    fill_values,
    order_from_row,
    order_values,
    position_from_row,
    position_values,
    trade_from_row,
    trade_row,
)
from kinetic.storage.sql import Repository, insert_stmt, upsert_stmt
from kinetic.storage.state_repositories import (
    CommandRepository,
    EngineStateRepository,
    InstallationRepository,
    PortfolioStateRepository,
    TradingStateRepository,
)

OPEN_ORDER_STATUSES = (
    OrderStatus.PENDING,
    OrderStatus.NEW,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.UNKNOWN,
)


class OrderRepository(Repository):
    """The order journal, keyed by client order id."""

    async def upsert(self, engine: str, order: Order, reason: str = "") -> None:
        """Insert or update ``order``; an empty ``reason`` keeps the stored one."""
        values = order_values(engine, order, reason)
        table = OrderRow.__table__
        stmt = insert_stmt(self._db.dialect, OrderRow, values)
        overrides = {
            "reason": sa.func.coalesce(sa.func.nullif(stmt.excluded.reason, ""), table.c.reason),
            "created_ms": sa.func.coalesce(
                sa.func.nullif(table.c.created_ms, 0), stmt.excluded.created_ms
            ),
        }
        # a final order stays final: a late write of an older state must not resurrect it
        final = [s.value for s in OrderStatus if s.is_terminal]
        upsert = upsert_stmt(
            self._db.dialect,
            OrderRow,
            values,
            ["client_order_id"],
            overrides,
            where=table.c.status.notin_(final),
        )
        async with self._db.session() as session, session.begin():
            await session.execute(upsert)

    async def get(self, client_order_id: str) -> Order | None:
        """Return the order with this client order id, if journaled."""
        async with self._db.session() as session:
            row = await session.get(OrderRow, client_order_id)
            return None if row is None else order_from_row(row)

    async def list_open(self, engine: str) -> list[Order]:
        """Return the engine's non-terminal orders, oldest first."""
        query = (
            sa.select(OrderRow)
            .where(OrderRow.engine == engine, OrderRow.status.in_(OPEN_ORDER_STATUSES))
            .order_by(OrderRow.created_ms, OrderRow.client_order_id)
        )
        async with self._db.session() as session:
            return [order_from_row(row) for row in await session.scalars(query)]

    async def list_unsettled_candidates(self, engine: str, since_ms: int) -> list[Order]:
        """Return the engine's non-terminal orders and those FILLED since ``since_ms``."""
        query = (
            sa.select(OrderRow)
            .where(
                OrderRow.engine == engine,
                sa.or_(
                    OrderRow.status.in_(OPEN_ORDER_STATUSES),
                    sa.and_(OrderRow.status == OrderStatus.FILLED, OrderRow.updated_ms >= since_ms),
                ),
            )
            .order_by(OrderRow.created_ms, OrderRow.client_order_id)
        )
        async with self._db.session() as session:
            return [order_from_row(row) for row in await session.scalars(query)]

    async def count(self, engine: str | None = None) -> int:
        """Return how many orders are journaled (for one engine, or all)."""
        query = sa.select(sa.func.count()).select_from(OrderRow)
        if engine is not None:
            query = query.where(OrderRow.engine == engine)
        async with self._db.session() as session:
            return int(await session.scalar(query) or 0)

    async def first_created_by_symbol(self, engine: str) -> dict[str, int]:
        """Return, per symbol, when the engine's first journaled order on it was created."""
        query = (
            sa.select(OrderRow.symbol, sa.func.min(OrderRow.created_ms))
            .where(OrderRow.engine == engine)
            .group_by(OrderRow.symbol)
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return {str(symbol): int(ms or 0) for symbol, ms in rows}

    async def count_by_status(self) -> dict[str, int]:
        """Return the number of orders per status across engines."""
        query = sa.select(OrderRow.status, sa.func.count()).group_by(OrderRow.status)
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return {str(status): int(count) for status, count in rows}


class FillRepository(Repository):
    """Executions, stored once per ``(engine, symbol, trade_id)``."""

    async def add(self, engine: str, fill: Fill) -> bool:
        """Store ``fill``; return False if that trade id was already stored."""
        stmt = (
            insert_stmt(self._db.dialect, FillRow, fill_values(engine, fill))
            .on_conflict_do_nothing(index_elements=["engine", "symbol", "trade_id"])
            .returning(FillRow.trade_id)
        )
        async with self._db.session() as session, session.begin():
            return (await session.execute(stmt)).first() is not None

    async def count(self, engine: str) -> int:
        """Return how many fills the engine has."""
        query = sa.select(sa.func.count()).select_from(FillRow).where(FillRow.engine == engine)
        async with self._db.session() as session:
            return int(await session.scalar(query) or 0)

    async def filled_by_order(
        self, engine: str, client_order_ids: Iterable[str]
    ) -> dict[str, Decimal]:
        """Return, per client order id, the total quantity of its journaled fills."""
        ids = list(client_order_ids)
        out: dict[str, Decimal] = {}
        for start in range(0, len(ids), 500):  # bounded IN lists
            query = sa.select(FillRow.client_order_id, FillRow.quantity).where(
                FillRow.engine == engine, FillRow.client_order_id.in_(ids[start : start + 500])
            )
            async with self._db.session() as session:
                rows = (await session.execute(query)).all()
            for cid, qty in rows:
                out[str(cid)] = out.get(str(cid), Decimal(0)) + Decimal(qty)
        return out

    async def last_ts_by_symbol(self, engine: str) -> dict[str, int]:
        """Return, per symbol, the time of the engine's latest journaled fill."""
        query = (
            sa.select(FillRow.symbol, sa.func.max(FillRow.ts_ms))
            .where(FillRow.engine == engine)
            .group_by(FillRow.symbol)
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return {str(symbol): int(ms or 0) for symbol, ms in rows}

    async def list(self, engine: str) -> list[Fill]:
        """Return the engine's fills in execution order."""
        query = (
            sa.select(FillRow)
            .where(FillRow.engine == engine)
            .order_by(FillRow.ts_ms, FillRow.trade_id)
        )
        async with self._db.session() as session:
            return [fill_from_row(row) for row in await session.scalars(query)]


class PositionRepository(Repository):
    """Open positions, one per ``(engine, symbol)``."""

    async def upsert(self, engine: str, position: Position) -> None:
        """Insert or replace the engine's position in ``position.symbol``."""
        values = position_values(engine, position, self._clock.time_ms())
        stmt = upsert_stmt(self._db.dialect, PositionRow, values, ["engine", "symbol"])
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)

    async def delete(self, engine: str, symbol: str) -> None:
        """Remove the engine's position in ``symbol`` (no error if absent)."""
        stmt = sa.delete(PositionRow).where(
            PositionRow.engine == engine, PositionRow.symbol == symbol
        )
        async with self._db.session() as session, session.begin():
            await session.execute(stmt)

    async def list(self, engine: str) -> list[Position]:
        """Return the engine's open positions ordered by symbol."""
        query = (
            sa.select(PositionRow).where(PositionRow.engine == engine).order_by(PositionRow.symbol)
        )
        async with self._db.session() as session:
            return [position_from_row(row) for row in await session.scalars(query)]

    async def list_all(self) -> dict[str, builtins.list[Position]]:
        """Return every open position grouped by engine."""
        query = sa.select(PositionRow).order_by(PositionRow.engine, PositionRow.symbol)
        result: dict[str, builtins.list[Position]] = {}
        async with self._db.session() as session:
            for row in await session.scalars(query):
                result.setdefault(row.engine, []).append(position_from_row(row))
        return result


class TradeRepository(Repository):
    """Closed round trips."""

    async def add(self, trade: ClosedTrade) -> None:
        """Store a closed round trip."""
        async with self._db.session() as session, session.begin():
            session.add(trade_row(trade))

    async def list(self, engine: str | None = None) -> list[ClosedTrade]:
        """Return closed trades (of one engine, or all) in closing order."""
        query = sa.select(TradeRow).order_by(TradeRow.closed_ms, TradeRow.id)
        if engine is not None:
            query = query.where(TradeRow.engine == engine)
        async with self._db.session() as session:
            return [trade_from_row(row) for row in await session.scalars(query)]

    async def recent(self, limit: int, since_ms: int | None = None) -> builtins.list[ClosedTrade]:
        """The last ``limit`` closed trades (closed at or after ``since_ms``), oldest first."""
        query = sa.select(TradeRow).order_by(TradeRow.closed_ms.desc(), TradeRow.id.desc())
        if since_ms is not None:
            query = query.where(TradeRow.closed_ms >= since_ms)
        async with self._db.session() as session:
            rows = list(await session.scalars(query.limit(limit)))
        return [trade_from_row(row) for row in reversed(rows)]

    async def realized_pnl(self, engine: str) -> Decimal:
        """Return the engine's total realised PnL (net of fees), exactly."""
        query = sa.select(TradeRow.pnl).where(TradeRow.engine == engine)
        async with self._db.session() as session:
            return sum(await session.scalars(query), Decimal(0))


class EquityRepository(Repository):
    """Periodic equity samples."""

    async def add(
        self,
        engine: str,
        ts_ms: int,
        equity: Decimal,
        cash: Decimal,
        realized: Decimal,
        unrealized: Decimal,
        exposure: Decimal,
    ) -> None:
        """Store one equity sample."""
        row = EquitySnapshotRow(
            engine=engine,
            ts_ms=ts_ms,
            equity=equity,
            cash=cash,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            exposure=exposure,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)

    async def latest(self, engine: str) -> EquitySnapshot | None:
        """Return the engine's most recent sample, if any."""
        query = (
            sa.select(EquitySnapshotRow)
            .where(EquitySnapshotRow.engine == engine)
            .order_by(EquitySnapshotRow.ts_ms.desc(), EquitySnapshotRow.id.desc())
            .limit(1)
        )
        async with self._db.session() as session:
            row = await session.scalar(query)
        return None if row is None else equity_from_row(row)

    async def count(self, engine: str) -> int:
        """Return how many samples the engine has."""
        query = (
            sa.select(sa.func.count())
            .select_from(EquitySnapshotRow)
            .where(EquitySnapshotRow.engine == engine)
        )
        async with self._db.session() as session:
            return int(await session.scalar(query) or 0)


class EventRepository(Repository):
    """The audit trail. Credential-like keys are dropped from ``data``."""

    async def add(
        self,
        kind: str,
        message: str,
        engine: str | None = None,
        data: Mapping[str, Any] | None = None,
        ts_ms: int = 0,
    ) -> None:
        """Store an event; ``ts_ms == 0`` means now (by the injected clock)."""
        row = EventRow(
            ts_ms=ts_ms or self._clock.time_ms(),
            kind=kind,
            engine=engine,
            message=message,
            data=encode_event_data(data),
        )
        async with self._db.session() as session, session.begin():
            session.add(row)

    async def list(self, kind: str | None = None, limit: int = 100) -> list[StoredEvent]:
        """Return the newest ``limit`` events (optionally of one kind), newest first."""
        query = sa.select(EventRow).order_by(EventRow.ts_ms.desc(), EventRow.id.desc())
        if kind is not None:
            query = query.where(EventRow.kind == kind)
        async with self._db.session() as session:
            rows = list(await session.scalars(query.limit(limit)))
        return [event_from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Repositories:
    """Every repository over one ``Database``."""

    orders: OrderRepository
    fills: FillRepository
    positions: PositionRepository
    trades: TradeRepository
    equity: EquityRepository
    events: EventRepository
    engine_state: EngineStateRepository
    portfolio_state: PortfolioStateRepository
    installation: InstallationRepository
    trading_states: TradingStateRepository
    commands: CommandRepository

    @classmethod
    def create(cls, db: Database, clock: Clock | None = None) -> Repositories:
        """Build all repositories over ``db``; ``clock`` stamps ``updated_ms``."""
        clk = clock if clock is not None else RealClock()
        return cls(
            orders=OrderRepository(db, clk),
            fills=FillRepository(db, clk),
            positions=PositionRepository(db, clk),
            trades=TradeRepository(db, clk),
            equity=EquityRepository(db, clk),
            events=EventRepository(db, clk),
            engine_state=EngineStateRepository(db, clk),
            portfolio_state=PortfolioStateRepository(db, clk),
            installation=InstallationRepository(db, clk),
            trading_states=TradingStateRepository(db, clk),
            commands=CommandRepository(db, clk),
        )

"""SQLAlchemy 2.0 declarative models: the schema the migrations create.

The migrations in ``migrations/versions`` are the source of truth for the DDL; these
models mirror them for the repositories. Money and quantities use ``ExactDecimal``;
timestamps are UTC epoch milliseconds (``*_ms``) except supervision-clock seconds
(``last_heartbeat``, ``circuit_breaker_until``).
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kinetic.storage.types import ExactDecimal

ZERO = Decimal(0)


class Base(DeclarativeBase):
    """Declarative base holding the metadata of every Kinetic table."""


def _money() -> Mapped[Decimal]:
    return mapped_column(ExactDecimal(), nullable=False, default=ZERO)


def _opt_money() -> Mapped[Decimal | None]:
    return mapped_column(ExactDecimal(), nullable=True)


class OrderRow(Base):
    """Order journal, keyed by the client order id."""

    __tablename__ = "orders"
    __table_args__ = (sa.Index("ix_orders_engine_status", "engine", "status"),)

    client_order_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    engine: Mapped[str] = mapped_column(sa.String(64))
    symbol: Mapped[str] = mapped_column(sa.String(32))
    side: Mapped[str] = mapped_column(sa.String(8))
    order_type: Mapped[str] = mapped_column(sa.String(16))
    quantity: Mapped[Decimal] = _money()
    price: Mapped[Decimal | None] = _opt_money()
    stop_price: Mapped[Decimal | None] = _opt_money()
    reduce_only: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(20))
    venue_order_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    filled_qty: Mapped[Decimal] = _money()
    avg_price: Mapped[Decimal] = _money()
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class FillRow(Base):
    """One execution; ``(engine, symbol, trade_id)`` makes inserts idempotent.

    Binance numbers trades per symbol, so the symbol is part of a fill's identity.
    """

    __tablename__ = "fills"
    __table_args__ = (
        sa.Index("ix_fills_engine", "engine"),
        sa.Index("ix_fills_client_order_id", "client_order_id"),
    )

    engine: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    trade_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(sa.String(64))
    symbol: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    side: Mapped[str] = mapped_column(sa.String(8))
    quantity: Mapped[Decimal] = _money()
    price: Mapped[Decimal] = _money()
    fee: Mapped[Decimal] = _money()
    fee_asset: Mapped[str] = mapped_column(sa.String(16))
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    is_maker: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    reduce_only: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class PositionRow(Base):
    """An engine's open position; one row per ``(engine, symbol)``."""

    __tablename__ = "positions"

    engine: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    side: Mapped[str] = mapped_column(sa.String(8))
    quantity: Mapped[Decimal] = _money()
    entry_price: Mapped[Decimal] = _money()
    stop_price: Mapped[Decimal] = _money()
    take_profit: Mapped[Decimal | None] = _opt_money()
    leverage: Mapped[int] = mapped_column(sa.Integer, default=1)
    fees: Mapped[Decimal] = _money()
    best_price: Mapped[Decimal] = _money()
    trailing_active: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    liquidation_price: Mapped[Decimal | None] = _opt_money()
    confidence: Mapped[int] = mapped_column(sa.Integer, default=0)
    entry_reason: Mapped[str] = mapped_column(sa.Text, default="")
    opened_ms: Mapped[int] = mapped_column(sa.BigInteger)
    updated_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class TradeRow(Base):
    """A closed round trip with its realised PnL (net of fees)."""

    __tablename__ = "trades"
    __table_args__ = (sa.Index("ix_trades_engine_closed", "engine", "closed_ms"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    engine: Mapped[str] = mapped_column(sa.String(64))
    symbol: Mapped[str] = mapped_column(sa.String(32))
    side: Mapped[str] = mapped_column(sa.String(8))
    quantity: Mapped[Decimal] = _money()
    entry_price: Mapped[Decimal] = _money()
    exit_price: Mapped[Decimal] = _money()
    opened_ms: Mapped[int] = mapped_column(sa.BigInteger)
    closed_ms: Mapped[int] = mapped_column(sa.BigInteger)
    pnl: Mapped[Decimal] = _money()
    fees: Mapped[Decimal] = _money()
    exit_reason: Mapped[str] = mapped_column(sa.Text, default="")
    leverage: Mapped[int] = mapped_column(sa.Integer, default=1)


class EquitySnapshotRow(Base):
    """Periodic equity sample of one engine."""

    __tablename__ = "equity_snapshots"
    __table_args__ = (sa.Index("ix_equity_snapshots_engine_ts", "engine", "ts_ms"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    engine: Mapped[str] = mapped_column(sa.String(64))
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    equity: Mapped[Decimal] = _money()
    cash: Mapped[Decimal] = _money()
    realized_pnl: Mapped[Decimal] = _money()
    unrealized_pnl: Mapped[Decimal] = _money()
    exposure: Mapped[Decimal] = _money()


class EventRow(Base):
    """Audit trail: circuit breaker, restarts, operator commands, config changes."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_kind_ts", "kind", "ts_ms"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(64))
    engine: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[str] = mapped_column(sa.Text, default="{}")


class EngineStateRow(Base):
    """Last known supervision state of one engine, for the status command."""

    __tablename__ = "engine_state"

    engine: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="stopped")
    last_heartbeat: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    restart_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    fills: Mapped[int] = mapped_column(sa.Integer, default=0)
    open_positions: Mapped[int] = mapped_column(sa.Integer, default=0)
    equity: Mapped[Decimal] = _money()
    pnl: Mapped[Decimal] = _money()
    allocated_pct: Mapped[float] = mapped_column(sa.Float, default=0.0)
    updated_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class PortfolioStateRow(Base):
    """Single-row (``id = 1``) portfolio state: circuit breaker and day anchors."""

    __tablename__ = "portfolio_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    circuit_breaker_active: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    circuit_breaker_until: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    circuit_breaker_reason: Mapped[str] = mapped_column(sa.Text, default="")
    peak_equity: Mapped[Decimal] = _money()
    day_start_equity: Mapped[Decimal] = _money()
    day: Mapped[str] = mapped_column(sa.String(10), default="")
    total_value: Mapped[Decimal] = _money()
    total_pnl: Mapped[Decimal] = _money()
    updated_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class InstallationRow(Base):
    """Key/value facts about this database's installation (``instance_id``, ``id_stamp``)."""

    __tablename__ = "installation"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text, default="")


class TradingStateRow(Base):
    """Trading state of one scope (``daemon`` or an engine name), with its cause."""

    __tablename__ = "trading_states"

    scope: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    cause: Mapped[str] = mapped_column(sa.Text, default="")
    source: Mapped[str] = mapped_column(sa.String(32), default="")
    since_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class OperatorCommandRow(Base):
    """An operator command (kill switch, flatten) for the running daemon to carry out."""

    __tablename__ = "operator_commands"
    __table_args__ = (sa.Index("ix_operator_commands_status", "status", "id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    args: Mapped[str] = mapped_column(sa.Text, default="{}")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    result: Mapped[str] = mapped_column(sa.Text, default="")
    created_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    done_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)

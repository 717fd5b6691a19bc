"""Initial schema: orders, fills, positions, trades, equity, events, state.

Revision ID: 0001
Revises:
Create Date: 2024-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from kinetic.storage.types import ExactDecimal

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money(name: str, nullable: bool = False) -> sa.Column[Any]:
    if nullable:
        return sa.Column(name, ExactDecimal(), nullable=True)
    return sa.Column(name, ExactDecimal(), nullable=False, server_default="0")


def _ms(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def _flag(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _int(name: str, default: int) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=str(default))


def _text(name: str, default: str = "") -> sa.Column[Any]:
    return sa.Column(name, sa.Text(), nullable=False, server_default=default)


def _str(name: str, length: int) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=False)


def _create_trading_tables() -> None:
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(64), primary_key=True),
        _str("engine", 64),
        _str("symbol", 32),
        _str("side", 8),
        _str("order_type", 16),
        _money("quantity"),
        _money("price", nullable=True),
        _money("stop_price", nullable=True),
        _flag("reduce_only"),
        _str("status", 20),
        sa.Column("venue_order_id", sa.String(64), nullable=True),
        _money("filled_qty"),
        _money("avg_price"),
        _text("reason"),
        _ms("created_ms"),
        _ms("updated_ms"),
    )
    op.create_index("ix_orders_engine_status", "orders", ["engine", "status"])

    op.create_table(
        "fills",
        sa.Column("engine", sa.String(64), primary_key=True),
        sa.Column("trade_id", sa.String(64), primary_key=True),
        _str("client_order_id", 64),
        _str("symbol", 32),
        _str("side", 8),
        _money("quantity"),
        _money("price"),
        _money("fee"),
        _str("fee_asset", 16),
        _ms("ts_ms"),
        _flag("is_maker"),
        _flag("reduce_only"),
    )
    op.create_index("ix_fills_engine", "fills", ["engine"])
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])

    op.create_table(
        "positions",
        sa.Column("engine", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(32), primary_key=True),
        _str("side", 8),
        _money("quantity"),
        _money("entry_price"),
        _money("stop_price"),
        _money("take_profit", nullable=True),
        _int("leverage", 1),
        _money("fees"),
        _money("best_price"),
        _flag("trailing_active"),
        _money("liquidation_price", nullable=True),
        _int("confidence", 0),
        _text("entry_reason"),
        _ms("opened_ms"),
        _ms("updated_ms"),
    )

    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _str("engine", 64),
        _str("symbol", 32),
        _str("side", 8),
        _money("quantity"),
        _money("entry_price"),
        _money("exit_price"),
        _ms("opened_ms"),
        _ms("closed_ms"),
        _money("pnl"),
        _money("fees"),
        _text("exit_reason"),
        _int("leverage", 1),
    )
    op.create_index("ix_trades_engine_closed", "trades", ["engine", "closed_ms"])


def _create_monitoring_tables() -> None:
    op.create_table(
        "equity_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _str("engine", 64),
        _ms("ts_ms"),
        _money("equity"),
        _money("cash"),
        _money("realized_pnl"),
        _money("unrealized_pnl"),
        _money("exposure"),
    )
    op.create_index("ix_equity_snapshots_engine_ts", "equity_snapshots", ["engine", "ts_ms"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _ms("ts_ms"),
        _str("kind", 64),
        sa.Column("engine", sa.String(64), nullable=True),
        _text("message"),
        _text("data", "{}"),
    )
    op.create_index("ix_events_kind_ts", "events", ["kind", "ts_ms"])

    op.create_table(
        "engine_state",
        sa.Column("engine", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="stopped"),
        sa.Column("last_heartbeat", sa.Float(), nullable=True),
        _int("restart_count", 0),
        sa.Column("last_error", sa.Text(), nullable=True),
        _int("fills", 0),
        _int("open_positions", 0),
        _money("equity"),
        _money("pnl"),
        sa.Column("allocated_pct", sa.Float(), nullable=False, server_default="0"),
        _ms("updated_ms"),
    )

    op.create_table(
        "portfolio_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        _flag("circuit_breaker_active"),
        sa.Column("circuit_breaker_until", sa.Float(), nullable=True),
        _text("circuit_breaker_reason"),
        _money("peak_equity"),
        _money("day_start_equity"),
        sa.Column("day", sa.String(10), nullable=False, server_default=""),
        _money("total_value"),
        _money("total_pnl"),
        _ms("updated_ms"),
    )


def upgrade() -> None:
    """Create every table of the initial schema."""
    _create_trading_tables()
    _create_monitoring_tables()


def downgrade() -> None:
    """Drop every table of the initial schema."""
    for table in (
        "portfolio_state",
        "engine_state",
        "events",
        "equity_snapshots",
        "trades",
        "positions",
        "fills",
        "orders",
    ):
        op.drop_table(table)

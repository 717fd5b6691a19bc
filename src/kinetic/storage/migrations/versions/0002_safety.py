"""Safety: installation identity, fill identity per symbol, trading states, operator commands.

* ``installation``: key/value rows; ``instance_id`` names this database's installation in
  every client order id, ``id_stamp`` the last per-start stamp (see execution.ids).
* ``fills``: the primary key becomes ``(engine, symbol, trade_id)``; Binance numbers trades
  per symbol, so the same trade id on two symbols is two fills.
* ``trading_states``: ACTIVE / REDUCE_ONLY / HALTED per scope (``daemon`` or an engine),
  with the cause and who set it; cleared only by an operator.
* ``operator_commands``: command rows written by the CLI (kill switch, flatten) and picked
  up by the running daemon.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kinetic.storage.types import ExactDecimal

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FILL_COLUMNS = (
    "engine, trade_id, client_order_id, symbol, side, quantity, price, fee, fee_asset, "
    "ts_ms, is_maker, reduce_only"
)


def _fills_table(name: str, key: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("trade_id", sa.String(64), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False, server_default="0"),
        sa.Column("price", ExactDecimal(), nullable=False, server_default="0"),
        sa.Column("fee", ExactDecimal(), nullable=False, server_default="0"),
        sa.Column("fee_asset", sa.String(16), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("is_maker", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reduce_only", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
    )


def _rekey_fills(key: tuple[str, ...]) -> None:
    """Copy ``fills`` into a table with primary key ``key`` (portable: no ALTER of a PK)."""
    op.drop_index("ix_fills_engine", table_name="fills")
    op.drop_index("ix_fills_client_order_id", table_name="fills")
    _fills_table("fills_rekeyed", key)
    # constant column list, no input: not an injection vector
    op.execute(f"INSERT INTO fills_rekeyed ({_FILL_COLUMNS}) SELECT {_FILL_COLUMNS} FROM fills")  # noqa: S608
    op.drop_table("fills")
    op.rename_table("fills_rekeyed", "fills")
    op.create_index("ix_fills_engine", "fills", ["engine"])
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])


def upgrade() -> None:
    """Create the safety tables and re-key fills by symbol."""
    op.create_table(
        "installation",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False, server_default=""),
    )
    _rekey_fills(("engine", "symbol", "trade_id"))
    op.create_table(
        "trading_states",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="ACTIVE"),
        sa.Column("cause", sa.Text(), nullable=False, server_default=""),
        sa.Column("source", sa.String(32), nullable=False, server_default=""),
        sa.Column("since_ms", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_table(
        "operator_commands",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("args", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("result", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("done_ms", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_operator_commands_status", "operator_commands", ["status", "id"])


def downgrade() -> None:
    """Drop the safety tables; fills go back to ``(engine, trade_id)`` (duplicates dropped)."""
    op.drop_index("ix_operator_commands_status", table_name="operator_commands")
    op.drop_table("operator_commands")
    op.drop_table("trading_states")
    op.execute(
        "DELETE FROM fills WHERE EXISTS (SELECT 1 FROM fills f2 WHERE f2.engine = fills.engine "
        "AND f2.trade_id = fills.trade_id AND f2.symbol < fills.symbol)"
    )
    _rekey_fills(("engine", "trade_id"))
    op.drop_table("installation")

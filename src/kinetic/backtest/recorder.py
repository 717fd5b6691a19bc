"""A lean in-memory recorder and state sink for backtests.

Same ``Recorder`` protocol as the daemon's database recorder, but it keeps only what the
report needs (closed trades, events, counts), so memory stays flat over long runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from kinetic.domain import ClosedTrade, EquitySnapshot, Fill, Order, OrderStatus, Position

_PENDING = OrderStatus.PENDING  # a module global: no enum class lookup per journal write


@dataclass
class BacktestRecorder:
    """Record trades and events; count orders and fills; drop the rest."""

    trades: list[ClosedTrade] = field(default_factory=list)
    events: list[tuple[int, str, str, str | None, dict[str, Any]]] = field(default_factory=list)
    orders: int = 0
    fills: int = 0
    trade_ids: set[tuple[str, str, str]] = field(default_factory=set)
    clock_ms: Any = None  # a callable returning the market time for event stamps
    # parity keeps every order's last state and every fill (off: memory stays flat)
    keep_journal: bool = False
    journal: dict[str, tuple[str, Order, str]] = field(default_factory=dict)
    fill_log: list[tuple[str, Fill]] = field(default_factory=list)

    async def record_order(self, engine: str, order: Order, reason: str = "") -> None:
        if order.status is _PENDING:
            self.orders += 1
        if self.keep_journal:
            old = self.journal.get(order.client_order_id)
            kept = reason or (old[2] if old is not None else "")
            self.journal[order.client_order_id] = (engine, replace(order), kept)

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        # the journal's de-duplication is the OMS's last line of defence: keep it
        key = (engine, fill.symbol, fill.trade_id)
        if key in self.trade_ids:
            return False
        self.trade_ids.add(key)
        self.fills += 1
        if self.keep_journal:
            self.fill_log.append((engine, fill))
        return True

    async def record_position(self, engine: str, position: Position) -> None:
        return None

    async def delete_position(self, engine: str, symbol: str) -> None:
        return None

    async def record_trade(self, trade: ClosedTrade) -> None:
        self.trades.append(trade)

    async def record_equity(self, snapshot: EquitySnapshot) -> None:
        return None

    async def record_event(
        self, kind: str, message: str, engine: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        ts = int(self.clock_ms()) if self.clock_ms is not None else 0
        self.events.append((ts, kind, message, engine, dict(data or {})))

    async def open_orders(self, engine: str) -> list[Order]:
        return []

    async def unsettled_orders(self, engine: str, since_ms: int) -> list[Order]:
        return []

    async def positions(self, engine: str) -> list[Position]:
        return []

    async def order_count(self, engine: str) -> int:
        return 0

    async def client_id_start(self, engine: str, now_s: float) -> tuple[str, int]:
        return "00000", 0  # one run, one start: deterministic ids in reports

    async def fill_checkpoints(self, engine: str) -> dict[str, int]:
        return {}  # a backtest starts on an empty venue: nothing to take over

    async def realized_pnl(self, engine: str) -> Decimal:
        return sum((t.pnl for t in self.trades if t.engine == engine), Decimal(0))

    async def save_engine_state(self, engine: str, **fields: Any) -> None:
        return None

    async def save_portfolio_state(self, **fields: Any) -> None:
        return None

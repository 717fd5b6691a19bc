"""DbRecorder: the engines' and orchestrator's ``Recorder`` over the repositories.

Orders and fills, the journal the OMS writes before every send, go through a dedicated
``OrderJournal`` connection when one is given (``kinetic.storage.journal``); it writes
the same rows as the repositories, which still serve every read.

Listeners (``RecordListener``) hear every event, new fill and closed trade as it is
recorded: the notifier turns them into alerts. They are called synchronously and must
not block (the notifier only appends to a bounded queue); one that raises is logged and
never disturbs the write.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from kinetic.domain import ZERO, ClosedTrade, EquitySnapshot, Fill, Order, Position
from kinetic.execution.ids import new_instance_id, start_stamp
from kinetic.logging import get_logger
from kinetic.storage.journal import OrderJournal
from kinetic.storage.repositories import Repositories

log = get_logger(component="recorder")


class RecordListener(Protocol):
    """Hears what is recorded; every method must return at once (no I/O, no await)."""

    def on_event(
        self, kind: str, message: str, engine: str | None, data: dict[str, Any]
    ) -> None: ...

    def on_fill(self, engine: str, fill: Fill) -> None: ...

    def on_trade(self, trade: ClosedTrade) -> None: ...


class DbRecorder:
    """Write-through recorder: every call is one short transaction.

    ``journal`` (optional) takes the order and fill writes off SQLAlchemy: the OMS awaits
    them before each send, so they are the latency-critical ones. A failed write raises.
    """

    def __init__(self, repos: Repositories, journal: OrderJournal | None = None) -> None:
        self.repos = repos
        self.journal = journal
        self.listeners: list[RecordListener] = []

    def _tell(self, what: str, *args: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, what)(*args)
            except Exception as exc:  # a listener's bug never reaches the trading path
                log.error("record listener failed", listener=type(listener).__name__,
                          call=what, error=repr(exc))  # fmt: skip

    async def record_order(self, engine: str, order: Order, reason: str = "") -> None:
        if self.journal is not None:
            await self.journal.record_order(engine, order, reason)
        else:
            await self.repos.orders.upsert(engine, order, reason)

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        if self.journal is not None:
            new = await self.journal.record_fill(engine, fill)
        else:
            new = await self.repos.fills.add(engine, fill)
        if new:
            self._tell("on_fill", engine, fill)
        return new

    async def record_position(self, engine: str, position: Position) -> None:
        await self.repos.positions.upsert(engine, position)

    async def delete_position(self, engine: str, symbol: str) -> None:
        await self.repos.positions.delete(engine, symbol)

    async def record_trade(self, trade: ClosedTrade) -> None:
        await self.repos.trades.add(trade)
        self._tell("on_trade", trade)

    async def record_equity(self, snapshot: EquitySnapshot) -> None:
        await self.repos.equity.add(
            snapshot.engine,
            snapshot.ts_ms,
            snapshot.equity,
            snapshot.cash,
            snapshot.realized_pnl,
            snapshot.unrealized_pnl,
            snapshot.exposure,
        )

    async def record_event(
        self, kind: str, message: str, engine: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        # heard even if the write fails: "journal unwritable" is the alert that matters most
        self._tell("on_event", kind, message, engine, dict(data or {}))
        await self.repos.events.add(kind, message, engine, data)

    async def open_orders(self, engine: str) -> list[Order]:
        return await self.repos.orders.list_open(engine)

    async def unsettled_orders(self, engine: str, since_ms: int) -> list[Order]:
        orders = await self.repos.orders.list_unsettled_candidates(engine, since_ms)
        journaled = await self.repos.fills.filled_by_order(
            engine, [o.client_order_id for o in orders]
        )
        out: list[Order] = []
        for order in orders:
            order.filled_qty = max(order.filled_qty, journaled.get(order.client_order_id, ZERO))
            if order.status.is_terminal and order.filled_qty >= order.quantity:
                continue  # every trade of a filled order seen
            out.append(order)
        return out

    async def positions(self, engine: str) -> list[Position]:
        return await self.repos.positions.list(engine)

    async def order_count(self, engine: str) -> int:
        return await self.repos.orders.count(engine)

    async def client_id_start(self, engine: str, now_s: float) -> tuple[str, int]:
        inst = self.repos.installation
        instance = await inst.get_or_create("instance_id", new_instance_id())
        last = await inst.get(f"id_stamp:{engine}")
        stamp = start_stamp(now_s, int(last) if last else -1)
        await inst.put(f"id_stamp:{engine}", str(stamp))
        return instance, stamp

    async def funding_checkpoint(self, engine: str) -> str | None:
        """The engine's funding sync checkpoint (``installation`` key ``funding_ms:<engine>``)."""
        return await self.repos.installation.get(f"funding_ms:{engine}")

    async def save_funding_checkpoint(self, engine: str, value: str) -> None:
        await self.repos.installation.put(f"funding_ms:{engine}", value)

    async def fill_checkpoints(self, engine: str) -> dict[str, int]:
        first = await self.repos.orders.first_created_by_symbol(engine)
        last = await self.repos.fills.last_ts_by_symbol(engine)
        return {**first, **last}

    async def realized_pnl(self, engine: str) -> Decimal:
        return await self.repos.trades.realized_pnl(engine)

    async def save_engine_state(self, engine: str, **fields: Any) -> None:
        await self.repos.engine_state.upsert(engine, **fields)

    async def save_portfolio_state(self, **fields: Any) -> None:
        clean = {
            k: (Decimal(str(v)) if k in _MONEY and v is not None else v) for k, v in fields.items()
        }
        await self.repos.portfolio_state.save(**clean)

    async def load_portfolio_state(self) -> dict[str, Any] | None:
        return await self.repos.portfolio_state.load()


_MONEY = {"peak_equity", "day_start_equity", "total_value", "total_pnl"}

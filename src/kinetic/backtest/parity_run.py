"""Both sides of a parity check: the run's journal and the backtest over its candles."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from config import ConfigValidationError, UnifiedConfig
from kinetic.backtest.data import load_candles, resolve_files
from kinetic.backtest.driver import Driver
from kinetic.backtest.options import BacktestOptions, backtest_config
from kinetic.backtest.parity import Leg, legs
from kinetic.backtest.world import build_world
from kinetic.storage.db import Database
from kinetic.storage.models import EquitySnapshotRow, EventRow, FillRow, OrderRow
from kinetic.storage.records import fill_from_row, order_from_row
from kinetic.supervisor.allocator import CapitalAllocator

NEVER_MS = 2**62


@dataclass(frozen=True)
class Window:
    """The stretch of the run compared: orders sent in ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int


async def run_window(db: Database, start_ms: int | None, end_ms: int | None) -> Window:
    """``--from``/``--to``, or the run's start (its first ``started`` event) to the end."""
    if start_ms is None:
        async with db.session() as session:
            first = await session.scalar(
                sa.select(sa.func.min(EventRow.ts_ms)).where(EventRow.kind == "started")
            )
            if first is None:
                first = await session.scalar(sa.select(sa.func.min(OrderRow.created_ms)))
        if first is None:
            raise ConfigValidationError("--db: the database holds no run (no start, no order)")
        start_ms = int(first)
    return Window(start_ms, NEVER_MS if end_ms is None else end_ms)


async def run_legs(db: Database, engine: str, window: Window) -> list[Leg]:
    """The run's orders sent in the window, with their fills, from its journal."""
    query = sa.select(OrderRow).where(
        OrderRow.engine == engine,
        OrderRow.created_ms >= window.start_ms,
        OrderRow.created_ms < window.end_ms,
    )
    async with db.session() as session:
        rows = list(await session.scalars(query))
        ids = [r.client_order_id for r in rows]
        fills = [] if not ids else list(
            await session.scalars(
                sa.select(FillRow).where(FillRow.engine == engine, FillRow.client_order_id.in_(ids))
            )
        )  # fmt: skip
    return legs(((order_from_row(r), r.reason) for r in rows), (fill_from_row(f) for f in fills))


async def starting_capital(
    db: Database, config: UnifiedConfig, engine: str, start_ms: int
) -> Decimal:
    """The capital the engine traded with: its allocation of the first equity snapshots.

    Each engine's first snapshot at or after the start (its venue cash, live); the engine
    gets its allocated share of their total, as the CapitalAllocator gave it in the run.
    Without snapshots: the configured ``initial_capital_usd``.
    """
    total = Decimal(0)
    async with db.session() as session:
        for name in CapitalAllocator(config).enabled:
            first = await session.scalar(
                sa.select(EquitySnapshotRow.equity)
                .where(EquitySnapshotRow.engine == name, EquitySnapshotRow.ts_ms >= start_ms)
                .order_by(EquitySnapshotRow.ts_ms)
                .limit(1)
            )
            total += first if first is not None else Decimal(0)
    if total <= 0:
        total = Decimal(str(config.initial_capital_usd))
    pct = Decimal(str(CapitalAllocator(config).allocated_pct(engine)))
    return (total * pct / 100).quantize(Decimal("0.01"))


async def backtest_legs(
    config: UnifiedConfig,
    engine: str,
    data: Path,
    window: Window,
    cash: Decimal,
) -> list[Leg]:
    """Re-run the backtester on the recorded candles; its orders sent in the window."""
    symbols = tuple(config.spot_watchlist if engine == "spot" else config.futures_watchlist)
    opts = BacktestOptions(
        engines=(engine,), symbols=symbols, data=(data,), timeframe=config.timeframe,
        cash=float(cash), fill="close", all_in=False, at_end="keep",
    )  # fmt: skip
    run_config = backtest_config(config, opts, all_in=False)
    end = None if window.end_ms >= NEVER_MS else window.end_ms
    series = load_candles(resolve_files(opts.data, symbols, opts.timeframe), None, end)
    first_close = min(int(a.open_time_ms[0]) + a.interval_ms - 1 for a in series.values())
    world = build_world(run_config, opts, list(series), (first_close + 1) / 1000.0)
    world.recorder.keep_journal = True
    for slot in world.slots:
        slot.engine.d.sizer = None  # the run's own sizing: margin x leverage / signal close
        slot.engine._history_until_ms = window.start_ms  # earlier candles warm up only
    await Driver(world, series, "close", None, None, at_end="keep").run()
    rec = world.recorder
    orders = [
        (order, reason)
        for name, order, reason in rec.journal.values()
        if name == engine and window.start_ms <= order.created_ms < window.end_ms
    ]
    return legs(orders, (f for name, f in rec.fill_log if name == engine))

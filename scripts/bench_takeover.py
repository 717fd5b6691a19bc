"""Start-up takeover benchmark (issue 11): 100 journaled orders and 20 positions.

Usage: python scripts/bench_takeover.py [--runs 3] [--positions 20] [--orders 100] [--json]

Everything runs in this process on 127.0.0.1: the fake Binance USD-M server
(``kinetic.venues.fakes``), the real ``BinanceFuturesClient`` (signing, rate limiter,
HTTP), the real ``FuturesEngine`` and the journal in SQLite (``DbRecorder``). Each run
sets up a fresh account and database:

* ``positions`` symbols, each with a position on the venue, its filled entry order and
  fill in the journal, and a resting reduce-only stop (journaled);
* the rest of the ``orders`` as resting limit entries of ours, journaled open: the
  takeover looks each up and cancels it (stale entries of the previous process).

Then a new engine starts (``FuturesEngine.startup``: OMS start, takeover, stop re-attach
and the protection step) and the wall time of that start is measured. The numbers
include every venue round trip over loopback HTTP and every journal write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from config import UnifiedConfig
from kinetic.clock import RealClock
from kinetic.domain import (
    MarketType,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
)
from kinetic.engines.base import EngineDeps
from kinetic.engines.futures import FuturesEngine
from kinetic.execution.ids import ClientIds
from kinetic.execution.oms import OrderManager
from kinetic.logging import configure_logging
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import PositionManager
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.storage import Database, Repositories, resolve_database_url
from kinetic.storage.recorder import DbRecorder
from kinetic.strategy.registry import create_strategy
from kinetic.venues.binance import BinanceFuturesClient
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from kinetic.venues.fakes.binance_state import Sym

D = Decimal
PRICE = D(100)
QTY = D("1.0")


def _symbols(n: int) -> list[str]:
    return [f"T{i:02d}USDT" for i in range(n)]


async def _account(server: FakeBinance, client: BinanceFuturesClient, rec: DbRecorder,
                   ids: ClientIds, symbols: list[str], orders: int) -> None:  # fmt: skip
    """Positions with entries, fills and stops; the other orders as resting limits."""
    clock = RealClock()
    for symbol in symbols:
        server.book.symbols[symbol] = Sym(symbol, symbol[:3], D("0.01"), D("0.1"), D("0.1"), D(5))
        server.set_price(symbol, PRICE)
    for symbol in symbols:
        entry = OrderIntent("futures", symbol, Side.BUY, OrderType.MARKET, QTY, ids.next())
        placed = await client.place_order(entry)
        placed.status, placed.filled_qty, placed.avg_price = OrderStatus.FILLED, QTY, PRICE
        await rec.record_order("futures", placed, "entry")
        for fill in await client.get_fills(symbol):
            await rec.record_fill("futures", fill)
        pos = Position(symbol, PositionSide.LONG, QTY, PRICE, clock.time_ms(), D(95), leverage=5)
        await rec.record_position("futures", pos)
        stop = OrderIntent("futures", symbol, Side.SELL, OrderType.STOP_MARKET, QTY, ids.next(),
                           stop_price=D(95), reduce_only=True)  # fmt: skip
        await rec.record_order("futures", await client.place_order(stop), "stop_loss")
    for i in range(orders - 2 * len(symbols)):
        symbol = symbols[i % len(symbols)]
        limit = OrderIntent("futures", symbol, Side.BUY, OrderType.LIMIT, QTY, ids.next(),
                            price=D(80))  # fmt: skip
        await rec.record_order("futures", await client.place_order(limit), "entry")


def _engine(client: BinanceFuturesClient, rec: DbRecorder, symbols: list[str],
            listed: dict[str, Any]) -> FuturesEngine:  # fmt: skip
    config = UnifiedConfig(futures_watchlist=symbols)
    clock = RealClock()
    blacklist = SymbolBlacklist(0)
    deps = EngineDeps(
        config=config,
        venue=client,
        strategy=create_strategy("futures_regime", config, "futures"),
        store=CandleStore(),
        oms=OrderManager("futures", client, rec, clock),
        positions=PositionManager("futures", MarketType.FUTURES, D(100_000)),
        risk=RiskManager(RiskLimits(len(symbols), 50), lambda: True),
        recorder=rec,
        clock=clock,
        instruments={s: listed[s] for s in symbols},
        symbols=symbols,
        allocation=lambda: None,  # type: ignore[arg-type,return-value]
    )
    return FuturesEngine(deps, blacklist)


@asynccontextmanager
async def bench_account(
    positions: int, orders: int
) -> AsyncIterator[tuple[FakeBinance, BinanceFuturesClient, DbRecorder, FuturesEngine]]:
    """A fresh account (see the module docstring) and an engine not yet started on it."""
    symbols = _symbols(positions)
    server = FakeBinance(futures=True)
    await server.start()
    client = BinanceFuturesClient(
        RealClock(), api_key=API_KEY, api_secret=API_SECRET, base_url=server.url
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(resolve_database_url(None, str(Path(tmp) / "bench.db")))
        await db.connect()
        await db.migrate()
        rec = DbRecorder(Repositories.create(db, RealClock()))
        try:
            instance, stamp = await rec.client_id_start("futures", RealClock().time())
            await _account(server, client, rec, ClientIds("futures", instance, stamp),
                           symbols, orders)  # fmt: skip
            listed = await client.get_instruments()
            yield server, client, rec, _engine(client, rec, symbols, listed)
        finally:
            await client.close()
            await server.stop()
            await db.close()


async def one_run(positions: int, orders: int) -> dict[str, Any]:
    async with bench_account(positions, orders) as (server, client, rec, engine):
        requests = len(server.requests)
        t0 = time.perf_counter()
        await engine.startup()
        elapsed = time.perf_counter() - t0
        resting = await client.get_open_orders()
        assert len(engine.d.positions.positions) == positions
        assert sum(o.order_type is OrderType.STOP_MARKET for o in resting) == positions
        assert not [o for o in resting if o.order_type is OrderType.LIMIT]
        return {
            "seconds": round(elapsed, 4),
            "venue_requests": len(server.requests) - requests,
            "journaled_orders": await rec.order_count("futures"),
        }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("ERROR")  # the client logs each expected lookup miss
    results = [await one_run(args.positions, args.orders) for _ in range(args.runs)]
    secs = [r["seconds"] for r in results]
    summary = {
        "bench": "startup_takeover",
        "orders": args.orders,
        "positions": args.positions,
        "runs": args.runs,
        "median_s": round(statistics.median(secs), 4),
        "min_s": min(secs),
        "max_s": max(secs),
        "venue_requests": results[0]["venue_requests"],
        "journal": "SQLite (DbRecorder)",
        "venue": "fake Binance USD-M over loopback HTTP",
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"start-up takeover, {args.orders} orders / {args.positions} positions "
            f"(fake Binance USD-M, SQLite journal): median {summary['median_s'] * 1000:.0f} ms "
            f"(min {summary['min_s'] * 1000:.0f}, max {summary['max_s'] * 1000:.0f}; "
            f"{args.runs} runs), {summary['venue_requests']} venue requests"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

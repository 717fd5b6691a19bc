"""Soak benchmark (issue 13 item 3): memory and monitor-step time stay flat over tens of
thousands of orders.

In process, the engine core a paper daemon runs (both engines, their OMSes and risk
managers, the SimExchange matching, the journal protocol) is driven bar by bar over
two symbols of real 1-minute candles (data/backtest BTCUSDT and ETHUSDT, 2021-04-20 ..)
by a strategy that signals at random on almost every bar, with so little cash that
many futures entries are refused by the venue (minimum notional) while the others fill
and every spot position's resting stop is cancelled when it closes. No bar is skipped.

The simulators keep the newest ``--venue-window`` final orders and fills per symbol
(20,000 in the product; 2,000 here so the plateau shows within the run).

Printed per window of bars: orders journaled so far, what the OMSes and simulators
retain (live orders, final-order windows, fills), the process's current RSS and the
mean time of one engine monitor step (and scan step) in that window. Flat means the
last window's numbers are those of the first (the ratios are printed); object counts
are the hard evidence, times on this shared VM are noisy.

What this is not: the daemon process against the fake venues over HTTP/WebSocket
(see bench_daemon.py and bench_sandbox.py for those paths); the OMS and engine code is
the same, the venue is the in-process simulator a paper daemon uses.

Usage: python scripts/bench_soak.py [--days 20] [--windows 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
DATA = ROOT / "data/backtest"
START_MS = 1_619_049_600_000  # 2021-04-22 00:00 UTC


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


async def soak(days: float, windows: int, window: int) -> None:
    from kinetic.backtest.driver import Driver
    from kinetic.backtest.options import BacktestOptions
    from kinetic.backtest.runner import BacktestRunner
    from kinetic.backtest.world import build_world
    from kinetic.logging import configure_logging
    from kinetic.venues.sim import book
    from tests.unit.backtest.bt_kit import base_config  # registers random_signals

    configure_logging("ERROR")  # refusals log a warning each: they would dominate
    # the simulators' history windows, made small so their plateau shows within the run
    book.MAX_FINAL_ORDERS = book.MAX_FILLS_PER_SYMBOL = window

    opts = BacktestOptions(
        engines=("spot", "futures"), symbols=("BTCUSDT", "ETHUSDT"),
        data=(DATA / "binance_BTCUSDT_1m_2021-04-20_2021-05-20.csv.gz",
              DATA / "binance_ETHUSDT_1m_2021-04-20_2021-05-20.csv.gz"),
        strategy="random_signals", params={"p": "0.45"}, cash=600.0, skip=False,
        start_ms=START_MS, end_ms=START_MS + int(days * 86_400_000),
        sets={"global_daily_loss_limit_pct": "100", "global_max_drawdown_pct": "100",
              "futures_blacklist_duration_minutes": "0"},
    )  # fmt: skip
    config, series, funding = BacktestRunner(base_config(), opts).prepare()
    first = min(int(a.open_time_ms[0]) + a.interval_ms - 1 for a in series.values())
    world = build_world(config, opts, list(series), (first + 1) / 1000.0)
    steps = len(next(iter(series.values())))
    per_window = max(1, steps // windows)
    timing = {"monitor": 0.0, "scan": 0.0, "n": 0}
    rows: list[dict[str, float]] = []
    for slot in world.slots:
        engine: Any = slot.engine
        for name in ("monitor", "scan"):
            inner = getattr(engine, f"{name}_once")

            async def timed(inner: Any = inner, name: str = name) -> None:
                t0 = time.perf_counter()
                await inner()
                timing[name] += time.perf_counter() - t0

            setattr(engine, f"{name}_once", timed)
    monitor_engine: Any = world.slots[-1].engine
    inner_monitor = monitor_engine.monitor_once

    async def window_probe() -> None:  # the last engine's monitor ends each step
        await inner_monitor()
        timing["n"] += 1
        if timing["n"] % per_window == 0:
            rows.append(_row(world, timing, per_window))
            timing["monitor"] = timing["scan"] = 0.0

    monitor_engine.monitor_once = window_probe
    print(
        f"== soak: both engines, 2 symbols, {steps:,} one-minute steps, random signals, "
        f"little cash (refusals), nothing skipped =="
    )
    print(f"{'steps':>8} {'orders':>8} {'fills':>7} {'oms live':>8} {'oms final':>9} "
          f"{'venue ord':>9} {'venue fills':>11} {'RSS MB':>7} {'monitor us':>10} "
          f"{'scan us':>8}")  # fmt: skip
    t0 = time.perf_counter()
    await Driver(world, series, opts.fill, funding, None, skip=False).run()
    for r in rows:
        print(f"{r['steps']:>8,.0f} {r['orders']:>8,.0f} {r['fills']:>7,.0f} "
              f"{r['oms_live']:>8.0f} {r['oms_final']:>9.0f} {r['venue_orders']:>9,.0f} "
              f"{r['venue_fills']:>11,.0f} {r['rss']:>7.1f} {r['monitor_us']:>10.1f} "
              f"{r['scan_us']:>8.1f}")  # fmt: skip
    if len(rows) >= 3:
        a, b = rows[1], rows[-1]  # the first window includes the start-up
        print(
            f"last / second window: RSS {b['rss'] / a['rss']:.2f}x, monitor step "
            f"{b['monitor_us'] / a['monitor_us']:.2f}x, scan step "
            f"{b['scan_us'] / a['scan_us']:.2f}x, OMS live orders {a['oms_live']:.0f} -> "
            f"{b['oms_live']:.0f}, orders journaled {a['orders']:,.0f} -> {b['orders']:,.0f}"
        )
    print(f"total {time.perf_counter() - t0:.1f} s")


def _row(world: Any, timing: dict[str, float], per_window: int) -> dict[str, float]:
    oms = [s.engine.d.oms.retained() for s in world.slots]
    venue = [s.venue.retained() for s in world.slots]
    calls = per_window * len(world.slots)
    return {
        "steps": timing["n"],
        "orders": world.recorder.orders,
        "fills": world.recorder.fills,
        "oms_live": sum(o["orders"] for o in oms),
        "oms_final": sum(o["final"] for o in oms),
        "venue_orders": sum(v["orders"] for v in venue),
        "venue_fills": sum(v["fills"] for v in venue),
        "rss": _rss_mb(),
        "monitor_us": timing["monitor"] / calls * 1e6,
        "scan_us": timing["scan"] / calls * 1e6,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=float, default=20.0)
    p.add_argument("--windows", type=int, default=10)
    p.add_argument(
        "--venue-window", type=int, default=2_000, help="final orders / fills a simulator keeps"
    )
    args = p.parse_args()
    asyncio.run(soak(args.days, args.windows, args.venue_window))


if __name__ == "__main__":
    main()

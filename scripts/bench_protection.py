"""Protection monitor benchmark (issue 11): the cost of one protection step.

Usage: python scripts/bench_protection.py [--positions 3,20] [--steps 20] [--json]

For each position count, the start-up takeover benchmark's account is set up (positions
on the fake Binance USD-M, entries, fills and resting stops journaled in SQLite; see
``bench_takeover.py``), a ``FuturesEngine`` starts on it, and then ``protect_once()`` (the
step the monitor loop runs every cycle and a HALTED engine keeps running) is timed
``--steps`` times with every stop in place: one open-orders read and one positions read
over loopback HTTP through the real client, the comparison with the books, nothing to
repair (the reads are weighted requests: about 20 steps fit the minute's budget). A
second figure times the same step on the in-process SimExchange (what replay,
paper and backtests pay), where the venue reads cost no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench_takeover import bench_account

from kinetic.logging import configure_logging


def _stats(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1] * 1000, 3),
    }


async def _timed(engine: Any, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        await engine.protect_once()
        out.append(time.perf_counter() - t0)
    return out


async def venue_run(positions: int, steps: int) -> dict[str, Any]:
    async with bench_account(positions, 2 * positions) as (server, client, _rec, engine):
        await engine.startup()
        before = len(server.requests)
        samples = await _timed(engine, steps)
        per_step = (len(server.requests) - before) / steps
        stops = len(await client.get_open_orders())
        assert stops == positions, f"{stops} stops for {positions} positions"
        return {"positions": positions, **_stats(samples), "venue_requests_per_step": per_step}


async def sim_run(positions: int, steps: int) -> dict[str, Any]:
    from kinetic.domain import Direction, Regime
    from tests.unit.engines.kit import futures_world

    symbols = tuple(_sim_symbols(positions))
    w = futures_world("1000000", symbols, futures_max_positions=positions)
    for symbol in symbols:
        c = w.candle(symbol, 100.0, 100.0, 100.0, 100.0)
        w.strategy.at(symbol, c.open_time_ms, Direction.LONG, 80, 1.0, Regime.TRENDING, "e")
        w.publish(c)
    await w.engine.scan_once()
    await w.engine.monitor_once()
    held = len(w.positions.positions)  # the risk gate may refuse one (margin, filters)
    assert held > 0
    return {"positions": held, **_stats(await _timed(w.engine, steps))}


def _sim_symbols(n: int) -> list[str]:
    from kinetic.venues.sim.instruments import _FUTURES

    listed = sorted(_FUTURES)
    return listed[:n]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", default="3,20")
    # more steps run into Binance's request-weight budget (the client's limiter then waits
    # for the next minute, which is the budget's cost, not the step's)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("ERROR")
    counts = [int(x) for x in args.positions.split(",")]
    venue = [await venue_run(n, args.steps) for n in counts]
    sim_counts = [n for n in counts if n <= len(_sim_symbols(99))]
    sim = [await sim_run(n, args.steps) for n in sim_counts]
    report = {"bench": "protection_step", "steps": args.steps, "fake_binance_usdm": venue,
              "sim": sim}  # fmt: skip
    if args.json:
        print(json.dumps(report))
        return 0
    for r in venue:
        print(f"protection step, {r['positions']} positions, fake Binance USD-M over loopback: "
              f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
              f"{r['venue_requests_per_step']:.0f} venue requests per step")  # fmt: skip
    for r in sim:
        print(f"protection step, {r['positions']} positions, in-process SimExchange: "
              f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

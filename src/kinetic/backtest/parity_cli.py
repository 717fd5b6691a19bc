"""``python main.py parity ...``: compare a paper or live run with the backtest of its candles.

Exit codes: 0 report printed, 2 configuration error (one line), 3 database refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from config import ConfigValidationError, UnifiedConfig
from kinetic.marketdata.files import INTERVAL_MS


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the parity flags to ``p`` (the ``parity`` subcommand's parser)."""
    a = p.add_argument
    a("--db", help="the run's database URL or SQLite path (default: DATABASE_URL / sqlite_path)")
    a("--engine", choices=["spot", "futures"], required=True, help="the engine to compare")
    a("--from", dest="start", help="first order time compared (default: the run's start)")
    a("--to", dest="end", help="end (exclusive) of the orders compared (default: the end)")
    a("--data", help="the run's recorded candles (default: <candle_record_dir>/<engine>)")
    a("--cash", type=float, help="the engine's capital (default: from the run's equity snapshots)")
    a("--tolerance-s", type=float,
      help="a run order pairs only if sent within this long after the candle close "
           "(default: one candle + the engine's scan interval; 0: pair in order only)")  # fmt: skip
    a("--json", action="store_true", help="print one JSON object")
    a("--html", metavar="FILE", help="also write the report as an HTML page")


def tolerance_ms(args: argparse.Namespace, config: UnifiedConfig) -> int | None:
    """The pairing window after a candle's close; None when pairing in order only."""
    if args.tolerance_s is not None:
        if args.tolerance_s < 0:
            raise ConfigValidationError(f"--tolerance-s={args.tolerance_s:g}; allowed: >= 0")
        return None if args.tolerance_s == 0 else round(args.tolerance_s * 1000)
    scan = (
        config.spot_scan_interval_seconds
        if args.engine == "spot"
        else config.futures_scan_interval_seconds
    )
    return INTERVAL_MS.get(config.timeframe, 60_000) + round(scan * 1000)


def run(args: argparse.Namespace, config: UnifiedConfig, url: str) -> int:
    """Compare, then print (and write) the report."""
    from kinetic.backtest.parity_report import render_html, render_table
    from kinetic.cli_output import print_stdout

    report = asyncio.run(compare(args, config, url))
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
    print_stdout(json.dumps(report) if args.json else render_table(report))
    if args.html and not args.json:
        print(f"report written to {args.html}", file=sys.stderr)
    return 0


async def compare(args: argparse.Namespace, config: UnifiedConfig, url: str) -> dict[str, Any]:
    """Read the run, re-run the backtest over its candles, pair the orders: the report."""
    from decimal import Decimal

    from kinetic.backtest.data import parse_time_ms
    from kinetic.backtest.parity import pair_orders
    from kinetic.backtest.parity_report import summary
    from kinetic.backtest.parity_run import (
        NEVER_MS,
        backtest_legs,
        run_legs,
        run_window,
        starting_capital,
    )
    from kinetic.logging import configure_logging
    from kinetic.storage.db import Database, sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise ConfigValidationError(f"--db: no database at {path}")
    start = parse_time_ms(args.start, "--from") if args.start else None
    end = parse_time_ms(args.end, "--to") if args.end else None
    data = Path(args.data) if args.data else Path(config.candle_record_dir) / args.engine
    tolerance = tolerance_ms(args, config)
    db = Database(url)
    await db.connect()
    try:
        await db.check_schema()
        window = await run_window(db, start, end)
        run = await run_legs(db, args.engine, window)
        cash = (
            Decimal(str(args.cash))
            if args.cash is not None
            else await starting_capital(db, config, args.engine, window.start_ms)
        )
    finally:
        await db.close()
    configure_logging("DEBUG" if config.log_level == "DEBUG" else "WARNING")
    backtest = await backtest_legs(config, args.engine, data, window, cash)
    pairs = pair_orders(backtest, run, tolerance)
    report = summary(
        args.engine, window.start_ms, None if window.end_ms >= NEVER_MS else window.end_ms, pairs
    )
    report["cash"] = str(cash)
    return report

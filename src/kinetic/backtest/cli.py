"""``python main.py backtest ...``: parse flags, run, print and write the report.

Exit codes: 0 ok, 2 configuration error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import ConfigValidationError, UnifiedConfig
from kinetic.backtest.validated import experimental_summary

if TYPE_CHECKING:  # the parser is built for every command: keep its imports light
    from kinetic.backtest.options import BacktestOptions
    from kinetic.backtest.runner import BacktestResult

ENGINE_CHOICES = {"spot": ("spot",), "futures": ("futures",), "both": ("spot", "futures")}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the backtest flags to ``p`` (the ``backtest`` subcommand's parser)."""
    a = p.add_argument
    a("--engine", choices=sorted(ENGINE_CHOICES), default="spot", help="engine(s) to run")
    a("--strategy", help="registered strategy name (default: the configured one); "
      + experimental_summary())  # fmt: skip
    a("--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter")
    a("--symbol", action="append", default=[], metavar="SYMBOL", help="symbol (repeatable)")
    a("--symbols", help="comma-separated symbols")
    a("--data", action="append", default=[], metavar="PATH", help="candle CSV[.gz] or directory")
    a("--timeframe", metavar="TF",
      help="the timeframe to pick when --data holds several (1m, 5m, ...)")  # fmt: skip
    a("--from", dest="start", help="first candle open time (UTC date/time or epoch ms)")
    a("--to", dest="end", help="end (exclusive) of candle open times")
    a("--cash", type=float, help="starting capital (USD)")
    a("--fee", type=float, help="fee rate per fill, e.g. 0.001 = 0.1%% (maker and taker)")
    a("--fill", choices=["close", "next_open"], default="close", help="fill timing")
    a("--units", default="exchange", metavar="whole|fractional|exchange|STEP",
      help="entry quantity step: whole units, 1e-8, the exchange lot size, or a step")  # fmt: skip
    a("--stake", type=float, metavar="UNITS", help="fixed quantity per entry")
    a("--slippage-bps", type=float, help="slippage in bps on market and stop fills")
    a("--fee-fixed", type=float, metavar="CASH", help="fixed fee per fill, on top of --fee")
    a("--at-end", choices=["close", "open", "keep"], default="close",
      help="positions open after the last bar: close at its close or open, or keep")  # fmt: skip
    a("--leverage", type=int, help="futures leverage")
    a("--allow-short", action="store_true", help="let the strategy go short (futures)")
    a("--raw", action="store_true", help="switch every limit off (same code path)")
    a("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE",
      help="override any config field")  # fmt: skip
    a("--funding", help="funding-rate CSV (timestamp,funding_rate) for futures")
    a("--report", help="directory for summary.json, trades.csv, equity.csv, report.html")
    a("--json", action="store_true", help="print one JSON object on stdout")
    a("--no-progress", action="store_true", help="no progress bar on stderr")
    a("--no-skip", action="store_true",
      help="step every bar (no fast-forward over provably quiet bars)")  # fmt: skip


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigValidationError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def options_from_args(args: argparse.Namespace) -> BacktestOptions:
    """Turn parsed flags into ``BacktestOptions`` (malformed values raise)."""
    from kinetic.backtest.data import parse_time_ms
    from kinetic.backtest.options import BacktestOptions, parse_sets

    symbols = list(args.symbol) + [s for s in (args.symbols or "").split(",") if s.strip()]
    return BacktestOptions(
        engines=ENGINE_CHOICES[args.engine],
        symbols=tuple(s.strip().upper() for s in symbols),
        data=tuple(Path(p) for p in args.data),
        strategy=args.strategy,
        params=_pairs(args.param, "--param"),
        start_ms=parse_time_ms(args.start, "--from") if args.start else None,
        end_ms=parse_time_ms(args.end, "--to") if args.end else None,
        cash=args.cash,
        fee=args.fee,
        fill=args.fill,
        units=args.units,
        leverage=args.leverage,
        allow_short=args.allow_short,
        raw=args.raw,
        sets=parse_sets(args.sets),
        funding=Path(args.funding) if args.funding else None,
        skip=not args.no_skip,
        timeframe=args.timeframe,
        stake=args.stake,
        slippage_bps=args.slippage_bps,
        fee_fixed=args.fee_fixed,
        at_end=args.at_end,
    )


def output(result: BacktestResult, report: str | None) -> dict[str, Any]:
    """Write the report directory (if asked) and return the summary plus timing."""
    from kinetic.backtest.report import summary, write_report

    data = write_report(result, Path(report)) if report else summary(result)
    elapsed = result.elapsed_s
    return {
        **data,
        "elapsed_s": round(elapsed, 4),
        "bars_per_s": round(result.bars / elapsed) if elapsed > 0 else None,
        "skipped_bars": result.skipped,
    }


def render_text(data: dict[str, Any]) -> str:
    """Return a short human-readable summary."""
    keys = ["symbols", "engines", "from", "to", "bars", "trades", "final_equity",
            "total_return_pct", "cagr_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct",
            "win_rate_pct", "profit_factor", "fees_paid", "circuit_breakers", "elapsed_s",
            "bars_per_s", "gross_profit", "fees_share_of_gross_pct", "funding_share_of_gross_pct",
            "refused_entries"]  # fmt: skip
    text = "\n".join(f"{k:>18}: {data.get(k)}" for k in keys)
    warning = data.get("cost_warning")
    return f"{text}\n{warning}" if warning else text


def check_report_dir(report: Path) -> None:
    """Refuse (one line) a report path that cannot become a writable directory.

    Checked before the backtest runs. Nothing is left behind: a probe directory is made
    in the nearest existing parent and removed at once.
    """
    if report.exists():
        if not report.is_dir():
            raise ConfigValidationError(f"--report {report}: exists and is not a directory")
        parent = report
    else:
        parent = next((p for p in report.absolute().parents if p.exists()), Path("/"))
        if not parent.is_dir():
            raise ConfigValidationError(f"--report {report}: {parent} is not a directory")
    try:
        probe = tempfile.mkdtemp(prefix=".kinetic-report-probe-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigValidationError(
            f"--report {report}: cannot create the report directory ({reason})"
        ) from None


def run(args: argparse.Namespace, config: UnifiedConfig) -> int:
    """Run the ``backtest`` subcommand; config errors propagate to main (exit 2)."""
    from kinetic.backtest.runner import BacktestRunner, run_sync
    from kinetic.cli_output import print_stdout
    from kinetic.logging import configure_logging

    # a backtest logs every order at INFO; keep the terminal for warnings and the report
    configure_logging("DEBUG" if config.log_level == "DEBUG" else "WARNING")
    opts = options_from_args(args)
    if args.report:
        check_report_dir(Path(args.report))
    runner = BacktestRunner(config, opts, progress=not args.no_progress)
    result = run_sync(runner)
    data = output(result, args.report)
    shown = print_stdout(json.dumps(data) if args.json else render_text(data))
    if shown and args.report and not args.json:
        print(f"report written to {args.report}", file=sys.stderr)
    return 0

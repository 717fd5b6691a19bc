"""``python main.py optimize ...``: parse flags, run the search, print and write the report.

Takes every ``backtest`` flag (data, engine, fees, ``--set``...), except that
``--param NAME=RANGE`` gives a range to search. Exit codes: 0 ok, 1 a worker or the
storage failed, 2 bad input (one line on stderr), 130 interrupted (finished trials
kept; rerun to resume).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import ConfigValidationError, UnifiedConfig

if TYPE_CHECKING:
    from config import EnvConfig
    from kinetic.backtest.optimize import OptimizeResult, OptimizeSpec

SAMPLERS = ("tpe", "random", "grid")
OBJECTIVE_CHOICES = ("sharpe", "sortino", "calmar", "profit_factor", "return")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the optimize flags: the backtest flags plus the search's own."""
    from kinetic.backtest.cli import add_arguments as add_backtest_arguments

    add_backtest_arguments(p)
    for action in p._actions:  # same flag, another meaning here: a range to search
        if "--param" in action.option_strings:
            action.metavar = "NAME=RANGE"
            action.help = ("parameter range: fast=5:50, slow=20:200:10, x=0.5:2.0:log, "
                           "ma=sma,ema (strategy parameter or config field)")  # fmt: skip
        if "--report" in action.option_strings:
            action.help = "directory for results.json, trials.csv, oos_equity.csv, report.html"
    a = p.add_argument
    a("--space", help="YAML search space (params: {NAME: RANGE}); --param overrides it")
    a("--objective", choices=OBJECTIVE_CHOICES, default="sharpe", help="metric to maximise")
    a("--max-drawdown", type=float, metavar="PCT",
      help="constraint: a trial whose max drawdown exceeds PCT is never chosen")  # fmt: skip
    a("--min-trades", type=int, default=0, metavar="N", help="constraint: at least N trades")
    a("--sampler", choices=SAMPLERS, default="tpe", help="Optuna sampler")
    a("--seed", type=int, help="sampler seed (worker i uses seed + i)")
    a("--trials", type=int, default=50, help="finished trials per study (window) to reach")
    a("--workers", type=int, default=min(4, os.cpu_count() or 1),
      help="local worker processes (default: CPUs, at most 4)")  # fmt: skip
    a("--study", default="kinetic", help="study name; the same name on any machine joins it")
    a("--storage", help="study storage URL or SQLite path (default: a PostgreSQL DATABASE_URL, "
                        "else optimize.db beside the daemon's SQLite file)")  # fmt: skip
    a("--train", help="walk-forward train length (90d, 12w, 36h)")
    a("--test", help="walk-forward test length; alone: hold out the last stretch")
    a("--step", help="walk-forward step (default: the test length)")
    a("--anchored", action="store_true", help="train windows all start at the first candle")
    a("--folds", type=int, default=1,
      help="cut each train window into K folds (mean score; enables pruning)")  # fmt: skip
    a("--pruner", choices=("median", "none"), default="median", help="pruner (with --folds >= 2)")


def spec_from_args(args: argparse.Namespace, config: UnifiedConfig,
                   env: EnvConfig | None) -> OptimizeSpec:  # fmt: skip
    """Build the ``OptimizeSpec`` (malformed input raises ``ConfigValidationError``)."""
    from kinetic.backtest.cli import options_from_args
    from kinetic.backtest.optimize import OptimizeSpec, check_spec
    from kinetic.backtest.optimize_space import build_space
    from kinetic.backtest.optimize_study import resolve_storage
    from kinetic.backtest.optimize_trial import Goal, TrialSetup
    from kinetic.backtest.optimize_windows import parse_duration

    space = build_space(list(args.param), Path(args.space) if args.space else None)
    plain = copy.copy(args)
    plain.param = []
    options = options_from_args(plain)
    if args.max_drawdown is not None and not 0 < args.max_drawdown <= 100:
        raise ConfigValidationError(f"--max-drawdown={args.max_drawdown:g} is invalid; "
                                    "allowed: > 0 and <= 100")  # fmt: skip
    if args.min_trades < 0:
        raise ConfigValidationError(f"--min-trades={args.min_trades} is invalid; allowed: >= 0")
    goal = Goal(args.objective, args.max_drawdown, args.min_trades)
    db = env.database_url.get_secret_value() if env is not None and env.database_url else None
    spec = OptimizeSpec(
        setup=TrialSetup(config, options, tuple(space), goal, args.folds),
        study=args.study,
        storage=resolve_storage(args.storage, db, config.sqlite_path),
        trials=args.trials,
        workers=args.workers,
        sampler=args.sampler,
        seed=args.seed,
        pruner=args.pruner,
        train_ms=parse_duration(args.train, "--train") if args.train else None,
        test_ms=parse_duration(args.test, "--test") if args.test else None,
        step_ms=parse_duration(args.step, "--step") if args.step else None,
        anchored=args.anchored,
    )
    check_spec(spec)
    return spec


def tty_bar(enabled: bool) -> Callable[[int, int], None] | None:
    """A progress bar on stderr, only when stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None
    shown = {"done": -1}

    def show(done: int, total: int) -> None:
        if done == shown["done"]:
            return
        shown["done"] = done
        filled = done * 40 // max(total, 1)
        sys.stderr.write(f"\roptimize [{'#' * filled:<40}] {done}/{total} trials")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def render_text(data: dict[str, Any]) -> str:
    """A short human-readable result."""
    lines = [f"{'study':>34}: {data['study']} ({data['storage']})",
             f"{'objective':>34}: {data['objective']}",
             f"{'best params':>34}: {json.dumps(data['best_params'])}"]  # fmt: skip
    lines += [f"{k:>34}: {v}" for k, v in data["summary"].items()]
    for w in data["windows"]:
        ins, outs = w["in_sample"] or {}, w["out_of_sample"] or {}
        test = f" test {w['test']['from'][:10]}..{w['test']['to'][:10]}" if w["test"] else ""
        best = json.dumps((w["best"] or {}).get("params"))
        lines.append(f"  window {w['index']}: train {w['train']['from'][:10]}.."
                     f"{w['train']['to'][:10]}{test} best={best}"
                     f" IS score={ins.get('score')} OOS score={outs.get('score')}")  # fmt: skip
    return "\n".join(lines)


def run(args: argparse.Namespace, config: UnifiedConfig, env: EnvConfig | None = None) -> int:
    """Run the ``optimize`` subcommand; config errors propagate to main (exit 2)."""
    from sqlalchemy.exc import SQLAlchemyError

    from kinetic.backtest.cli import check_report_dir
    from kinetic.backtest.optimize import (
        OptimizeInterrupted,
        OptimizeWorkerError,
        run_optimize,
    )
    from kinetic.cli_output import print_stdout
    from kinetic.logging import configure_logging

    configure_logging("DEBUG" if config.log_level == "DEBUG" else "WARNING")
    spec = spec_from_args(args, config, env)
    if args.report:
        check_report_dir(Path(args.report))
    try:
        result = run_optimize(spec, tty_bar(not args.no_progress))
    except (OptimizeInterrupted, KeyboardInterrupt):
        print(f"kinetic: optimize interrupted; finished trials are kept in study {spec.study!r}"
              f" ({spec.storage.display}): rerun the same command to resume",
              file=sys.stderr)  # fmt: skip
        return 130
    except OptimizeWorkerError as exc:
        print(f"kinetic: optimize failed: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"kinetic: optimize storage unavailable ({spec.storage.display}): {first[:200]}",
              file=sys.stderr)  # fmt: skip
        return 1
    return _output(result, args, print_stdout)


def _output(result: OptimizeResult, args: argparse.Namespace,
            print_stdout: Callable[[str], bool]) -> int:  # fmt: skip
    from kinetic.backtest.optimize_report import results_json, write_optimize_report

    data = write_optimize_report(result, Path(args.report)) if args.report else \
        results_json(result)  # fmt: skip
    shown = print_stdout(json.dumps(data) if args.json else render_text(data))
    if shown and args.report and not args.json:
        print(f"report written to {args.report}", file=sys.stderr)
    return 0

"""Re-run the walk-forward searches that chose the shipped defaults (issue 15, item 4).

Usage: ``python scripts/optimize_defaults.py [--only STRATEGY:ENGINE] [--print]
[--out DIR] [--trials-scale X]``.

Every built-in strategy on both engines gets one ``main.py optimize`` walk-forward
search over the IN-SAMPLE window of the shipped BTCUSDT 5m data only (2020-12-01 to
2021-04-01; the out-of-sample window after it is never read). Anchored windows: train
60 days, then 80, then 100, each tested on the next 20 days. Seeded TPE, one worker, so
a rerun of the same code gives the same trials. The parameters of the last window's
best trial (fitted on 2020-12-01 .. 2021-03-11) are the defaults:
``kinetic.strategy.tuned`` (strategy parameters per engine) and config.py (the engine
and risk fields).

The searches run in order: ``futures_regime`` on futures first, because its study also
chooses the fields both engines share (``min_edge_cost_ratio``, ``min_stop_atr``,
``risk_per_trade_pct``, ``stop_cooldown_minutes``) and its engine's fields; then
``spot_trend`` on spot (the spot engine's fields); every other combination searches only
its strategy's parameters on the engine defaults so chosen. ``--print`` prints the
command lines without running them; a summary table (markdown) is printed at the end.
Reports go to ``--out`` (default ``reports/defaults``), one directory per study, with
the study storage ``optimize.db`` in it (the directory is emptied first: every run is a
fresh study).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = "data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"
COMMON = [
    "--symbol", "BTCUSDT", "--data", DATA, "--from", "2020-12-01", "--to", "2021-04-01",
    "--train", "60d", "--test", "20d", "--anchored", "--objective", "sharpe",
    "--max-drawdown", "10", "--min-trades", "10", "--sampler", "tpe", "--seed", "15",
    "--workers", "1", "--no-progress",
]  # fmt: skip
# slow <= 500: the daemon primes 500 candles (replay_warmup_candles, paper_warmup_candles)
EMA = ["fast=20:200:10", "slow=100:500:50"]
SHARED = ["min_stop_atr=0.5:5.0:0.5", "min_edge_cost_ratio=1.0:4.0:0.5",
          "stop_cooldown_minutes=0:360:30", "risk_per_trade_pct=0.5:2.0:0.25"]  # fmt: skip
FUTURES_FIELDS = [
    "futures_min_confidence=50:90:5", "futures_atr_stop_multiplier=1.5:6.0:0.5",
    "futures_trailing_activation_pct=1:8:1", "futures_trailing_distance_pct=0.5:6.0:0.5",
]  # fmt: skip
SPOT_FIELDS = ["spot_min_confidence=50:90:5", "spot_stop_loss_pct=2:16:1",
               "spot_take_profit_pct=4:30:2", "spot_position_size_pct=10:100:10"]  # fmt: skip
SMC = ["swing_n=2:6", "htf_factor=6:24:6", "htf_swing_n=1:4", "lookback=20:100:10"]
# the regime thresholds stay config fields (futures_regime_adx_*), not searched per strategy
CONFLUENCE = ["confidence_scale=1.0:2.5:0.25"]
SMA = ["fast=5:100:5", "slow=20:400:20"]

# (strategy, engine, trials per window, ranges), in the order they must run
STUDIES: list[tuple[str, str, int, list[str]]] = [
    ("futures_regime", "futures", 80, [*EMA, *FUTURES_FIELDS, *SHARED]),
    ("spot_trend", "spot", 80, [*EMA, *SPOT_FIELDS]),
    ("spot_trend", "futures", 40, EMA),
    ("futures_regime", "spot", 40, EMA),
    ("smc", "spot", 40, SMC),
    ("smc", "futures", 40, SMC),
    ("confluence", "spot", 40, CONFLUENCE),
    ("confluence", "futures", 40, CONFLUENCE),
    ("sma_cross", "spot", 40, SMA),
    ("sma_cross", "futures", 40, [*SMA, "allow_short=true,false"]),
]


def command(strategy: str, engine: str, trials: int, ranges: list[str], out: Path) -> list[str]:
    """The ``main.py optimize`` command line of one study."""
    study = out / f"{strategy}-{engine}"
    params = [x for r in ranges for x in ("--param", r)]
    return [
        "python", "main.py", "optimize", "--strategy", strategy, "--engine", engine, *COMMON,
        *params, "--trials", str(trials), "--study", f"defaults-{strategy}-{engine}",
        "--storage", str(study / "optimize.db"), "--report", str(study),
    ]  # fmt: skip


def _pct(value: object, signed: bool = True) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def summary_row(strategy: str, engine: str, results: dict[str, Any]) -> str:
    """One markdown row: chosen parameters, last window in/out of sample, folds' OOS."""
    windows: list[dict[str, Any]] = results["windows"]
    s: dict[str, Any] = results["summary"]
    best: dict[str, str] = results.get("best_params") or {}
    ins = windows[-1].get("in_sample") or {}
    folds = ", ".join(_pct((w.get("out_of_sample") or {}).get("total_return_pct")) for w in windows)
    chosen = " ".join(f"{k}={v}" for k, v in sorted(best.items())) or (
        "no feasible trial: constructor defaults kept"
    )
    sharpe = ins.get("sharpe")
    last = (
        f"{_pct(ins.get('total_return_pct'))} / {_pct(ins.get('max_drawdown_pct'), False)} / "
        + (f"{sharpe:.2f}" if isinstance(sharpe, int | float) else "-")
    )
    return (
        f"| `{strategy}` | {engine} | {chosen} | {last} | {folds} | "
        f"{_pct(s.get('out_of_sample_compounded_return_pct'))} "
        f"(B&H {_pct(s.get('buy_and_hold_test_compounded_pct'))}) |"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", default=[], metavar="STRATEGY:ENGINE")
    p.add_argument("--print", action="store_true", help="print the commands, run nothing")
    p.add_argument("--summary", action="store_true", help="only summarise existing reports")
    p.add_argument("--out", type=Path, default=Path("reports/defaults"))
    args = p.parse_args()
    only = {tuple(x.split(":", 1)) for x in args.only}
    rows = []
    for strategy, engine, trials, ranges in STUDIES:
        if only and (strategy, engine) not in only:
            continue
        cmd = command(strategy, engine, trials, ranges, args.out)
        if args.print:
            print(shlex.join(cmd))
            continue
        study = ROOT / args.out / f"{strategy}-{engine}"
        if not args.summary:
            shutil.rmtree(study, ignore_errors=True)  # a fresh study (and no stale WAL)
            study.mkdir(parents=True)
            print(shlex.join(cmd), file=sys.stderr, flush=True)
            subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        results = json.loads((study / "results.json").read_text(encoding="utf-8"))
        rows.append(summary_row(strategy, engine, results))
    if rows:
        print(
            "| strategy | engine | chosen (last window's best) | last train window: return / "
            "max DD / Sharpe | OOS folds' return | OOS compounded |"
        )
        print("|---|---|---|---|---|---|")
        print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

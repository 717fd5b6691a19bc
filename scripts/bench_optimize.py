"""Optimize benchmark (issue 13): trials per minute with 1 and 2 workers on one study.

Usage: python scripts/bench_optimize.py [--trials 40] [--days 30] [--storage URL] [--json]

Each run is ``kinetic.backtest.optimize.run_optimize`` (what ``main.py optimize`` runs)
on a fresh study: ``sma_cross`` over ``--days`` of the shipped BTCUSDT 5-minute candles,
random sampler (so the sampler's own cost does not grow with the study), ``--trials``
trials, first with ``--workers 1`` (in this process), then ``--workers 2`` (two spawned
processes sharing the study through the storage and its reservation lock). Storage:
a SQLite file in a temporary folder unless ``--storage`` names one (a PostgreSQL URL:
the multi-machine setup).

Reported per run: wall time of the whole command (start-up, spawning, the search, the
final in/out-of-sample evaluation) and trials per minute over the search itself (first
trial start to last trial end, from the trials' own timestamps); then the scaling
ratio 2 workers / 1 worker. On a 2-core machine the ideal ratio is 2; a machine shared
with other work gets less, so the CPU seconds per trial (this process and its workers)
are printed too: their 2/1 ratio near 1 says the coordination (lock, storage, spawning)
costs little and the wall-clock scaling is bounded by the free cores, printed as the
load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from config import UnifiedConfig
from kinetic.backtest.optimize import OptimizeSpec, run_optimize
from kinetic.backtest.optimize_space import parse_param
from kinetic.backtest.optimize_study import open_storage, resolve_storage
from kinetic.backtest.optimize_trial import Goal, TrialSetup
from kinetic.backtest.options import BacktestOptions
from kinetic.logging import configure_logging

DATA = (Path(__file__).resolve().parents[1] / "data" / "backtest"
        / "binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz")  # fmt: skip
START_MS = 1_609_459_200_000  # 2021-01-01
DAY_MS = 86_400_000


def _spec(storage_arg: str, study: str, trials: int, workers: int, days: int) -> OptimizeSpec:
    options = BacktestOptions(strategy="sma_cross", symbols=("BTCUSDT",), data=(DATA,),
                              start_ms=START_MS, end_ms=START_MS + days * DAY_MS)  # fmt: skip
    space = (parse_param("fast=3:30"), parse_param("slow=35:150"))
    setup = TrialSetup(UnifiedConfig(), options, space, Goal("sharpe"))
    return OptimizeSpec(setup=setup, study=study, storage=resolve_storage(storage_arg, None, ""),
                        trials=trials, workers=workers, sampler="random", seed=1)  # fmt: skip


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the spawned workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _search_rate(spec: OptimizeSpec) -> float:
    import optuna

    study = optuna.load_study(study_name=spec.study, storage=open_storage(spec.storage))
    done = [t for t in study.get_trials() if t.datetime_start and t.datetime_complete]
    first = min(t.datetime_start for t in done if t.datetime_start)
    last = max(t.datetime_complete for t in done if t.datetime_complete)
    return len(done) / ((last - first).total_seconds() / 60.0)


def run(storage_arg: str, trials: int, days: int) -> dict[str, Any]:
    out: dict[str, Any] = {"trials": trials, "days": days, "strategy": "sma_cross"}
    stamp = int(time.time())
    for workers in (1, 2):
        spec = _spec(storage_arg, f"bench-{stamp}-w{workers}", trials, workers, days)
        t0, c0 = time.perf_counter(), _cpu_s()
        run_optimize(spec)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
        out[f"workers_{workers}"] = {
            "wall_s": round(wall, 2),
            "trials_per_min_wall": round(trials / wall * 60, 1),
            "trials_per_min_search": round(_search_rate(spec), 1),
            "cpu_s_per_trial": round(cpu / trials, 3),
        }
    one, two = out["workers_1"], out["workers_2"]
    out["scaling_search"] = round(two["trials_per_min_search"] / one["trials_per_min_search"], 2)
    out["scaling_wall"] = round(two["trials_per_min_wall"] / one["trials_per_min_wall"], 2)
    out["cpu_per_trial_ratio"] = round(two["cpu_s_per_trial"] / one["cpu_s_per_trial"], 2)
    out["load_average_1m"] = round(os.getloadavg()[0], 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--storage", help="study storage (default: SQLite in a temporary folder)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.storage or str(Path(tmp) / "bench.db"), args.trials, args.days)
    if args.json:
        print(json.dumps(result))
        return
    print(f"optimize benchmark: sma_cross, {args.days} days of 5m BTCUSDT, "
          f"{args.trials} trials per run, random sampler")  # fmt: skip
    for w in (1, 2):
        r = result[f"workers_{w}"]
        print(
            f"  {w} worker{'s' if w > 1 else ' '}: {r['trials_per_min_search']:8.1f} trials/min "
            f"(search)  {r['trials_per_min_wall']:8.1f} trials/min (wall {r['wall_s']} s)  "
            f"{r['cpu_s_per_trial']} CPU s/trial"
        )
    print(
        f"  scaling 2/1 workers: {result['scaling_search']}x (search), "
        f"{result['scaling_wall']}x (wall); CPU per trial 2/1: "
        f"{result['cpu_per_trial_ratio']}x; load average {result['load_average_1m']} "
        f"on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()

"""One trial: run the backtest with the chosen parameters and score it.

The objective is one of the report's metrics (``summary``): ``sharpe``, ``sortino``,
``calmar``, ``profit_factor`` or ``return`` (total return, %), always maximised.
A metric the report leaves undefined counts as 0 (a flat run has no Sharpe); a profit
factor with no losing trade counts as ``PF_CAP``. ``--max-drawdown PCT`` and
``--min-trades N`` are constraints: a trial that breaks one keeps its score but is
infeasible (never chosen as best; TPE learns to avoid it).

With ``--folds K`` the window is cut into K consecutive folds, each an independent
backtest; the score is the mean over the folds, reported after each fold so the
pruner can stop a poor trial early.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config import ConfigValidationError, UnifiedConfig
from kinetic.backtest.optimize_space import ParamSpec, fixed_values, split_values
from kinetic.backtest.options import BacktestOptions

if TYPE_CHECKING:
    import optuna

    from kinetic.backtest.runner import BacktestResult

OBJECTIVES = {
    "sharpe": "sharpe",
    "sortino": "sortino",
    "calmar": "calmar",
    "profit_factor": "profit_factor",
    "return": "total_return_pct",
}
PF_CAP = 100.0
KEPT_METRICS = ("total_return_pct", "sharpe", "sortino", "calmar", "profit_factor",
                "max_drawdown_pct", "trades", "win_rate_pct", "fees_paid", "final_equity",
                "exposure_time_pct")  # fmt: skip


@dataclass(frozen=True)
class Goal:
    """What a trial maximises, and its constraints."""

    objective: str = "sharpe"
    max_drawdown_pct: float | None = None
    min_trades: int = 0

    def score(self, metrics: dict[str, Any]) -> float:
        """Return the objective's value for a run's metrics (undefined -> 0)."""
        value = metrics.get(OBJECTIVES[self.objective])
        if value is None:
            if self.objective == "profit_factor" and metrics.get("trades", 0) > 0:
                return PF_CAP  # winners only: no loss to divide by
            return 0.0
        return min(float(value), PF_CAP) if self.objective == "profit_factor" else float(value)

    def violations(self, metrics: dict[str, Any]) -> list[float]:
        """Constraint values (<= 0 satisfied): drawdown over the cap, trades short."""
        out = [0.0]
        if self.max_drawdown_pct is not None:
            out.append(float(metrics.get("max_drawdown_pct") or 0.0) - self.max_drawdown_pct)
        if self.min_trades:
            out.append(float(self.min_trades - int(metrics.get("trades") or 0)))
        return out

    def feasible(self, metrics: dict[str, Any]) -> bool:
        return all(v <= 0 for v in self.violations(metrics))


@dataclass(frozen=True)
class TrialSetup:
    """Everything a worker needs to evaluate parameter values (picklable)."""

    config: UnifiedConfig
    options: BacktestOptions  # the base run; searched values are added per trial
    space: tuple[ParamSpec, ...]
    goal: Goal
    folds: int = 1

    def options_for(self, values: dict[str, str], start_ms: int, end_ms: int) -> BacktestOptions:
        """Return the backtest options for ``values`` over ``[start_ms, end_ms)``."""
        params, sets = split_values(list(self.space), values)
        return dataclasses.replace(
            self.options,
            params={**self.options.params, **params},
            sets={**self.options.sets, **sets},
            start_ms=start_ms,
            end_ms=end_ms,
        )


def run_backtest(setup: TrialSetup, values: dict[str, str], start_ms: int,
                 end_ms: int) -> BacktestResult:  # fmt: skip
    """Run one backtest through the runner's public API (config errors raise)."""
    from kinetic.backtest.runner import BacktestRunner, run_sync

    opts = setup.options_for(values, start_ms, end_ms)
    return run_sync(BacktestRunner(setup.config, opts, progress=False))


def metrics_of(result: BacktestResult) -> dict[str, Any]:
    """The report's metrics for a run (``summary``), limited to what trials keep."""
    from kinetic.backtest.report import summary

    data = summary(result)
    return {k: data.get(k) for k in KEPT_METRICS}


def fold_bounds(start_ms: int, end_ms: int, folds: int) -> list[tuple[int, int]]:
    """Cut ``[start_ms, end_ms)`` into ``folds`` consecutive pieces."""
    edges = [start_ms + (end_ms - start_ms) * i // folds for i in range(folds + 1)]
    return list(itertools.pairwise(edges))


def _mean_metrics(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in KEPT_METRICS:
        vals = [float(r[key]) for r in runs if r.get(key) is not None]
        out[key] = sum(vals) / len(vals) if vals else None
    if runs:
        out["trades"] = sum(int(r.get("trades") or 0) for r in runs)
        out["max_drawdown_pct"] = max(float(r.get("max_drawdown_pct") or 0.0) for r in runs)
    return out


def evaluate(trial: optuna.trial.Trial, setup: TrialSetup, start_ms: int, end_ms: int) -> float:
    """The Optuna objective: suggest values, run the folds, report, score."""
    import optuna

    values = {p.name: p.suggest(trial) for p in setup.space if not p.fixed}
    values |= fixed_values(list(setup.space))
    runs: list[dict[str, Any]] = []
    scores: list[float] = []
    for step, (lo, hi) in enumerate(fold_bounds(start_ms, end_ms, setup.folds)):
        try:
            result = run_backtest(setup, values, lo, hi)
        except ConfigValidationError as exc:  # e.g. sma_cross fast >= slow
            trial.set_user_attr("invalid", str(exc))
            raise optuna.TrialPruned(f"invalid parameters: {exc}") from None
        runs.append(metrics_of(result))
        scores.append(setup.goal.score(runs[-1]))
        if setup.folds > 1:
            trial.report(sum(scores) / len(scores), step)
            if trial.should_prune():
                _keep(trial, setup, values, runs, scores)
                raise optuna.TrialPruned()
    _keep(trial, setup, values, runs, scores)
    return sum(scores) / len(scores)


def _keep(trial: optuna.trial.Trial, setup: TrialSetup, values: dict[str, str],
          runs: list[dict[str, Any]], scores: list[float]) -> None:  # fmt: skip
    import os

    metrics = runs[0] if len(runs) == 1 else _mean_metrics(runs)
    # one attribute, one storage write (each is a commit: SQLite syncs, PostgreSQL too)
    trial.set_user_attr("result", {
        "values": values,
        "metrics": metrics,
        "fold_scores": scores,
        "violations": setup.goal.violations(metrics),
        "feasible": setup.goal.feasible(metrics),
        "pid": os.getpid(),
    })  # fmt: skip

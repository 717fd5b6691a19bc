"""``main.py optimize``: parameter search with Optuna, walk-forward validated.

Public API:

* ``OptimizeSpec`` — what to search (built by ``optimize_cli`` from the flags);
* ``run_optimize(spec, progress)`` -> ``OptimizeResult`` — create or join the studies
  (one per walk-forward window), run the workers, then evaluate each window's best
  parameters in sample (train) and out of sample (test);
* ``kinetic.backtest.optimize_report`` writes it (JSON, CSV, HTML).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from config import ConfigValidationError
from kinetic.backtest.optimize_space import grid_size, grid_space, sample_values
from kinetic.backtest.optimize_study import (
    Storage,
    finished_trials,
    make_pruner,
    open_storage,
    open_study,
)
from kinetic.backtest.optimize_trial import Goal, TrialSetup, metrics_of, run_backtest
from kinetic.backtest.optimize_windows import Window, make_windows
from kinetic.backtest.optimize_worker import (
    EXIT_INTERRUPTED,
    StudyJob,
    WorkerJob,
    run_worker,
    worker_process_main,
)
from kinetic.clock import block

if TYPE_CHECKING:
    import optuna

    from kinetic.backtest.runner import BacktestResult

POLL_SECONDS = 0.5


class OptimizeInterrupted(Exception):
    """Ctrl-C: finished trials are kept; rerunning the command resumes."""


class OptimizeWorkerError(Exception):
    """A worker process failed (its message is on stderr)."""


@dataclass(frozen=True)
class OptimizeSpec:
    """Everything ``run_optimize`` needs."""

    setup: TrialSetup
    study: str
    storage: Storage
    trials: int = 50
    workers: int = 1
    sampler: str = "tpe"
    seed: int | None = None
    pruner: str = "median"
    train_ms: int | None = None
    test_ms: int | None = None
    step_ms: int | None = None
    anchored: bool = False


@dataclass
class WindowResult:
    """One window: its study, the best trial and its in/out-of-sample evaluation."""

    window: Window
    study: str
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None = None  # number, value, values
    in_sample: dict[str, Any] | None = None
    out_of_sample: dict[str, Any] | None = None
    buy_and_hold: dict[str, float | None] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    is_curve: tuple[np.ndarray, np.ndarray] | None = None
    oos_curve: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class OptimizeResult:
    spec: OptimizeSpec
    windows: list[WindowResult]
    data_from_ms: int
    data_to_ms: int
    trials_run_here: int = 0


def _data_range(setup: TrialSetup) -> tuple[int, int]:
    from kinetic.backtest.runner import BacktestRunner

    _, series, _ = BacktestRunner(setup.config, setup.options, progress=False).prepare()
    first = min(int(a.open_time_ms[0]) for a in series.values())
    end = max(int(a.open_time_ms[-1]) + a.interval_ms for a in series.values())
    return first, end


def check_names(setup: TrialSetup) -> None:
    """Refuse (one line) a parameter neither the strategy nor the config knows."""
    from kinetic.backtest.options import backtest_config
    from kinetic.backtest.world import wants_all_in

    config = backtest_config(setup.config, setup.options, all_in=False)
    wants_all_in(config, setup.options)  # the strategy itself (unknown name: refused)
    for p in setup.space:
        probes = [sample_values([p])[p.name]]
        if p.kind != "categorical":
            probes.append(sample_values([dataclasses.replace(p, low=p.high)])[p.name])
        else:
            probes = list(p.choices)
        errors = []
        for value in probes:
            opts = setup.options_for({p.name: value}, 0, 1)
            opts = dataclasses.replace(opts, start_ms=None, end_ms=None)
            try:
                wants_all_in(backtest_config(setup.config, opts, all_in=False), opts)
            except ConfigValidationError as exc:
                errors.append(str(exc))
        # a config field must accept every end of its range; a strategy parameter at
        # least one (fast=5:50 alone may clash with the default slow at one end)
        if errors and (p.is_config_field or len(errors) == len(probes)):
            raise ConfigValidationError(f"--param {p.name}: {errors[0].removeprefix('--param: ')}")


def fingerprint(spec: OptimizeSpec, window: Window) -> dict[str, Any]:
    """What makes two runs the same study (a mismatch on rejoin is refused)."""
    s, o = spec.setup, spec.setup.options
    return {
        "strategy": o.strategy or "",
        "engines": list(o.engines),
        "symbols": list(o.symbols),
        "data": [p.name for p in o.data],
        "params": {p.name: p.describe() for p in s.space},
        "fixed": dict(sorted({**o.params, **o.sets}.items())),
        "objective": s.goal.objective,
        "max_drawdown_pct": s.goal.max_drawdown_pct,
        "min_trades": s.goal.min_trades,
        "folds": s.folds,
        "fill": o.fill,
        "raw": o.raw,
        "cash": o.cash,
        "fee": o.fee,
        "window": window.key,
    }


def study_names(spec: OptimizeSpec, windows: list[Window]) -> list[str]:
    if len(windows) == 1 and not windows[0].has_test:
        return [spec.study]
    return [f"{spec.study}/{w.key}" for w in windows]


def run_optimize(spec: OptimizeSpec, progress: Callable[[int, int], None] | None = None,
                 ) -> OptimizeResult:  # fmt: skip
    """Create or join the studies, run the trials, evaluate each window's best."""
    check_names(spec.setup)
    first, end = _data_range(spec.setup)
    windows = make_windows(first, end, spec.train_ms, spec.test_ms, spec.step_ms, spec.anchored)
    grid = grid_space(list(spec.setup.space)) if spec.sampler == "grid" else None
    budget = min(spec.trials, grid_size(list(spec.setup.space))) if grid else spec.trials
    storage = open_storage(spec.storage)
    names = study_names(spec, windows)
    studies = []
    for w, name in zip(windows, names, strict=True):
        studies.append(open_study(storage, name, fingerprint(spec, w),
                                  pruner=make_pruner(spec.pruner, spec.setup.folds)))  # fmt: skip
    job = WorkerJob(
        setup=spec.setup,
        storage=spec.storage,
        studies=tuple(
            StudyJob(n, w.train_start, w.train_end, budget)
            for n, w in zip(names, windows, strict=True)
        ),
        sampler=spec.sampler,
        seed=spec.seed,
        grid=grid,
        pruner=spec.pruner,
    )
    total = budget * len(windows)

    def done() -> int:
        return sum(finished_trials(s) for s in studies)

    ran = _run_workers(job, spec.workers, total, done, progress)
    _wait_for_others(studies, total, done, progress)
    results = [_evaluate_window(spec, w, s) for w, s in zip(windows, studies, strict=True)]
    return OptimizeResult(spec, results, first, end, ran)


def _run_workers(job: WorkerJob, workers: int, total: int, done: Callable[[], int],
                 progress: Callable[[int, int], None] | None) -> int:  # fmt: skip
    if progress is not None:
        progress(done(), total)
    if workers <= 1:
        try:
            return run_worker(job, (lambda: progress(done(), total)) if progress else None)
        except KeyboardInterrupt:
            raise OptimizeInterrupted from None
    _run_processes(job, workers, total, done, progress)
    return total


def _run_processes(job: WorkerJob, workers: int, total: int, done: Callable[[], int],
                   progress: Callable[[int, int], None] | None) -> None:  # fmt: skip
    """Spawn ``workers`` processes; on Ctrl-C stop them (SIGTERM) and raise."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker_process_main, args=(dataclasses.replace(job, index=i),),
                         name=f"kinetic-optimize-{i}") for i in range(workers)]  # fmt: skip
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(POLL_SECONDS / len(procs))
            if progress is not None:
                progress(done(), total)
    except KeyboardInterrupt:
        _stop(procs)
        raise OptimizeInterrupted from None
    codes = [p.exitcode for p in procs]
    if any(c == EXIT_INTERRUPTED for c in codes):
        raise OptimizeInterrupted
    if any(c != 0 for c in codes):
        raise OptimizeWorkerError(f"worker exit codes {codes}")


def _stop(procs: list[Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for p in procs:
        if p.is_alive():
            p.terminate()  # SIGTERM: the worker fails its running trial and exits
    for p in procs:
        p.join()


def _wait_for_others(studies: list[optuna.Study], total: int, done: Callable[[], int],
                     progress: Callable[[int, int], None] | None,
                     pause: Callable[[float], None] = block) -> None:  # fmt: skip
    """Trials still running on other machines: wait for them (or their heartbeat to lapse),
    polling the shared storage every ``2 * POLL_SECONDS`` (``pause``: a blocking wait)."""
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    while True:
        running = 0
        for s in studies:
            fail_stale_trials(s)
            running += len(s.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if progress is not None:
            progress(done(), total)
        if not running:
            return
        pause(POLL_SECONDS * 2)  # other machines' trials show only in the shared storage


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial of the study as a plain dict (number, state, value, values, metrics)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        res = t.user_attrs.get("result", {})
        rows.append({
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "values": res.get("values", {k: str(v) for k, v in t.params.items()}),
            "metrics": res.get("metrics"),
            "feasible": res.get("feasible"),
            "invalid": t.user_attrs.get("invalid"),
        })  # fmt: skip
    return rows


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest-scoring complete, feasible trial (lowest number on ties)."""
    ok = [r for r in rows if r["state"] == "COMPLETE" and r["feasible"] and r["value"] is not None]
    if not ok:
        return None
    return max(ok, key=lambda r: (r["value"], -r["number"]))


def _importance(study: optuna.Study) -> dict[str, float]:
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 3 or not complete[0].params:
        return {}
    try:
        ev = optuna.importance.PedAnovaImportanceEvaluator()
        return {k: float(v) for k, v in
                optuna.importance.get_param_importances(study, evaluator=ev).items()}  # fmt: skip
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}


def buy_and_hold_pct(result: BacktestResult) -> float | None:
    """Mean over the symbols of (last close / first close - 1), percent, no costs."""
    rets = [float(a.close[-1]) / float(a.close[0]) - 1.0 for a in result.series.values()
            if len(a) and float(a.close[0]) > 0]  # fmt: skip
    return round(sum(rets) / len(rets) * 100.0, 6) if rets else None


def _scored(goal: Goal, result: BacktestResult) -> dict[str, Any]:
    """Score and every number of the backtest summary (new report fields flow through)."""
    from kinetic.backtest.report import summary

    m = metrics_of(result)
    data = summary(result)
    numbers = {
        k: v
        for k, v in data.items()
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool))
    }
    numbers["circuit_breakers"] = data["circuit_breakers"]
    return {"score": goal.score(m), "feasible": goal.feasible(m), **numbers, **m}


def _evaluate_window(spec: OptimizeSpec, w: Window, study: optuna.Study) -> WindowResult:
    rows = trial_rows(study)
    out = WindowResult(w, study.study_name, rows, importance=_importance(study))
    best = best_row(rows)
    if best is None:
        return out
    out.best = {"number": best["number"], "value": best["value"], "values": best["values"]}
    goal = spec.setup.goal
    train = run_backtest(spec.setup, best["values"], w.train_start, w.train_end)
    out.in_sample = _scored(goal, train)
    out.is_curve = (train.curve.ts_ms, train.curve.equity)
    out.buy_and_hold["train"] = buy_and_hold_pct(train)
    if w.has_test:
        assert w.test_start is not None
        assert w.test_end is not None
        try:
            test = run_backtest(spec.setup, best["values"], w.test_start, w.test_end)
        except ConfigValidationError as exc:  # e.g. the test stretch has no candles
            out.out_of_sample = {"error": str(exc)}
            return out
        out.out_of_sample = _scored(goal, test)
        out.oos_curve = (test.curve.ts_ms, test.curve.equity)
        out.buy_and_hold["test"] = buy_and_hold_pct(test)
    return out


def check_spec(spec: OptimizeSpec) -> None:
    """Refuse inconsistent settings (one line naming the flag)."""
    if spec.trials < 1:
        raise ConfigValidationError(f"--trials={spec.trials} is invalid; allowed: >= 1")
    if spec.workers < 1:
        raise ConfigValidationError(f"--workers={spec.workers} is invalid; allowed: >= 1")
    if spec.setup.folds < 1:
        raise ConfigValidationError(f"--folds={spec.setup.folds} is invalid; allowed: >= 1")
    if not spec.study or "/" in spec.study:
        raise ConfigValidationError(f"--study {spec.study!r}: a non-empty name without '/'")

"""Workers: run trials of each window's study until its budget is used up.

A worker is this process (``--workers 1``) or a spawned process; workers on other
machines run the same loop against the same storage. Ctrl-C (SIGINT) or SIGTERM stops
a worker at once: Optuna marks the interrupted trial FAIL (it does not count), every
finished trial stays in the storage, and a rerun of the same command resumes.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from kinetic.backtest.optimize_study import (
    BudgetLock,
    Storage,
    counted_trials,
    make_pruner,
    make_sampler,
    open_storage,
)
from kinetic.backtest.optimize_trial import TrialSetup, evaluate

EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class StudyJob:
    """One window's study: its name, the train range and the trial budget."""

    name: str
    start_ms: int
    end_ms: int
    budget: int


@dataclass(frozen=True)
class WorkerJob:
    """What a worker process runs (picklable: it crosses the spawn boundary)."""

    setup: TrialSetup
    storage: Storage
    studies: tuple[StudyJob, ...]
    sampler: str
    seed: int | None
    grid: dict[str, list[Any]] | None
    pruner: str
    index: int = 0


def run_worker(job: WorkerJob, on_trial: Callable[[], None] | None = None) -> int:
    """Run trials in every study of ``job`` until each budget is used; return how many."""
    import optuna

    from kinetic.logging import configure_logging

    configure_logging("WARNING")  # a backtest logs every order at INFO
    storage = open_storage(job.storage)
    seed = None if job.seed is None else job.seed + job.index
    constrained = (job.setup.goal.max_drawdown_pct is not None
                   or job.setup.goal.min_trades > 0)  # fmt: skip
    ran = 0
    for sj in job.studies:
        study = optuna.load_study(
            study_name=sj.name,
            storage=storage,
            sampler=make_sampler(job.sampler, seed, job.grid, constrained),
            pruner=make_pruner(job.pruner, job.setup.folds),
        )
        ran += _run_study(study, sj, job, on_trial)
    return ran


def _run_study(study: Any, sj: StudyJob, job: WorkerJob,
               on_trial: Callable[[], None] | None) -> int:  # fmt: skip
    from optuna.storages import fail_stale_trials

    lock = BudgetLock(job.storage, sj.name)

    def objective(trial: Any) -> float:
        lock.release()  # the trial exists (RUNNING) and counts: others may reserve theirs
        return evaluate(trial, job.setup, sj.start_ms, sj.end_ms)

    ran = 0
    try:
        while True:
            lock.acquire()
            try:
                fail_stale_trials(study)
                if counted_trials(study) >= sj.budget:
                    return ran
                study.optimize(objective, n_trials=1, catch=(), gc_after_trial=False)
            finally:
                lock.release()
            ran += 1
            if on_trial is not None:
                on_trial()
    finally:
        lock.close()


def _interrupt_once(signum: int, frame: FrameType | None) -> None:
    # the first SIGINT/SIGTERM interrupts the trial; later ones (the terminal's Ctrl-C
    # reaches the whole process group, and the parent forwards a SIGTERM) are ignored
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def worker_process_main(job: WorkerJob) -> None:
    """Entry point of a spawned worker process (exit 0 done, 130 interrupted, 1 failed)."""
    signal.signal(signal.SIGINT, _interrupt_once)
    signal.signal(signal.SIGTERM, _interrupt_once)
    try:
        run_worker(job)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # one line for the operator; the parent reports the exit code
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"kinetic: optimize worker {job.index} failed: {type(exc).__name__}: {first}",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)

"""Workers: run trials of each window's study until its budget is used up.

A worker is this process (``--workers 1``) or a spawned process; workers on other
machines run the same loop against the same storage. Ctrl-C (SIGINT) or SIGTERM stops
a worker at once: Optuna marks the interrupted trial FAIL (it does not count), every
finished trial stays in the storage, and a rerun of the same command resumes.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


class _Stop:
    """Ctrl-C/SIGTERM: interrupt a running backtest at once, else stop at the next trial.

    A signal is turned into ``KeyboardInterrupt`` only while a trial's backtests run
    (Optuna then marks that trial FAIL); anywhere else (reserving a trial, writing its
    result) it only asks the loop to stop, so no storage write is ever cut in half.
    """

    armed = False
    requested = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _Stop.requested = True
    if _Stop.armed:
        _Stop.armed = False  # once: a second signal while unwinding is only noted
        raise KeyboardInterrupt


@contextmanager
def _signals_stop_trials() -> Iterator[None]:
    """Install the handler for SIGINT and SIGTERM (main thread only), restore it after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    _Stop.requested = _Stop.armed = False
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _check_stop() -> None:
    if _Stop.requested:
        raise KeyboardInterrupt


def run_worker(job: WorkerJob, on_trial: Callable[[], None] | None = None) -> int:
    """Run trials in every study of ``job`` until each budget is used; return how many.

    Raises ``KeyboardInterrupt`` after Ctrl-C/SIGTERM (finished trials are kept).
    """
    with _signals_stop_trials(), _frozen_heap():
        return _run_studies(job, on_trial)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Freeze what exists before the trials (modules, Optuna, cached candles) once.

    ``batch_gc`` then skips its own full collection per backtest (see there); each
    trial's objects stay unfrozen and are collected as usual.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_studies(job: WorkerJob, on_trial: Callable[[], None] | None) -> int:
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
        _Stop.armed = True
        try:
            _check_stop()
            return evaluate(trial, job.setup, sj.start_ms, sj.end_ms)
        finally:
            _Stop.armed = False

    ran = 0
    try:
        while True:
            _check_stop()
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


def worker_process_main(job: WorkerJob) -> None:
    """Entry point of a spawned worker process (exit 0 done, 130 interrupted, 1 failed).

    The terminal's Ctrl-C reaches every process of the group and the parent forwards a
    SIGTERM too: both only stop this worker (see ``_Stop``).
    """
    try:
        run_worker(job)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # one line for the operator; the parent reports the exit code
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"kinetic: optimize worker {job.index} failed: {type(exc).__name__}: {first}",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)

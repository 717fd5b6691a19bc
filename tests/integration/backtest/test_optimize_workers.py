"""Optimize workers: two processes on one PostgreSQL study, Ctrl-C and resume.

* Two ``main.py optimize`` processes (two "machines") join one study in a throwaway
  PostgreSQL database and together finish exactly ``--trials`` trials, none run twice
  (grid sampler: every trial is a distinct grid point); a third run with a larger
  budget resumes the study. Both workers are held at the study's reservation lock
  until both wait there, so both certainly take part.
* SIGINT to ``optimize --workers 2`` (parent only: it forwards to its workers) after
  some trials finished: exit 130, nothing left RUNNING, finished trials kept; the
  rerun completes the budget and keeps them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from kinetic.backtest.optimize_study import BudgetLock, open_storage, resolve_storage
from tests.integration.daemon.conftest import temp_pg_database
from tests.integration.daemon.support import MAIN, REPO_ROOT, cli_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

BTC_5M = REPO_ROOT / "data" / "backtest" / "binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"
BASE = ["--env-file", "/dev/null", "optimize", "--strategy", "sma_cross", "--symbol", "BTCUSDT",
        "--data", str(BTC_5M), "--from", "2021-01-01", "--to", "2021-01-08", "--no-progress",
        "--json"]  # fmt: skip
GRID = ["--sampler", "grid", "--param", "fast=5:20:5", "--param", "slow=30:60:10"]  # 16 points
DEADLINE_S = 180.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from temp_pg_database()


def _interruptible() -> None:
    """In the child before exec: SIGINT as at a terminal. A suite started in the
    background by a non-interactive shell inherits SIGINT ignored, and Python then
    installs no KeyboardInterrupt handler (the optimize run would ignore Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(MAIN), *BASE, *args], cwd=REPO_ROOT,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_interruptible)  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=DEADLINE_S)
    return proc.returncode, out, err


def _wait(cond: object, what: str) -> None:
    """Poll a condition (not a clock) with a generous deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _study(storage_arg: str, name: str) -> optuna.Study:
    storage = open_storage(resolve_storage(storage_arg, None, "unused"))
    return optuna.load_study(study_name=name, storage=storage)


@pytest.mark.postgres
def test_two_workers_on_one_pg_study_run_each_trial_once_and_a_rerun_resumes(
    pg_url: str,
) -> None:
    storage = resolve_storage(pg_url, None, "unused")
    open_storage(storage)  # tables and schema, so the test can hold the lock first
    waiting = create_engine(storage.url)
    lock = BudgetLock(storage, "pg")
    lock.acquire()
    try:
        procs = [_start("--storage", pg_url, "--study", "pg", "--trials", "10", "--workers",
                        "1", *GRID) for _ in range(2)]  # fmt: skip

        def both_wait() -> bool:
            with waiting.connect() as conn:
                n = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = "
                                      "'advisory' AND NOT granted")).scalar()  # fmt: skip
            return n == 2 or any(p.poll() is not None for p in procs)

        _wait(both_wait, "both workers at the reservation lock")
    finally:
        lock.close()
        waiting.dispose()
    results = [_finish(p) for p in procs]
    assert [r[0] for r in results] == [0, 0], [r[2] for r in results]
    trials = _study(pg_url, "pg").get_trials()
    assert len(trials) == 10  # nothing beyond the budget, not even a failed reservation
    assert {t.state.name for t in trials} == {"COMPLETE"}
    points = [(t.params["fast"], t.params["slow"]) for t in trials]
    assert len(set(points)) == 10  # no grid point (no trial) run twice
    assert len({t.user_attrs["result"]["pid"] for t in trials}) == 2  # both workers ran trials
    best = [json.loads(r[1])["best_params"] for r in results]
    assert best[0] == best[1]  # both waited for the other's trials before reporting

    code, out, err = _finish(_start("--storage", pg_url, "--study", "pg", "--trials", "16",
                                    "--workers", "1", *GRID))  # fmt: skip
    assert code == 0, err
    after = _study(pg_url, "pg").get_trials()
    assert [(t.number, t.params) for t in after[:10]] == [(t.number, t.params) for t in trials]
    assert len(after) == 16
    assert len({(t.params["fast"], t.params["slow"]) for t in after}) == 16  # the whole grid
    assert json.loads(out)["windows"][0]["trials"]["complete"] == 16


def test_sigint_keeps_finished_trials_and_rerun_completes_the_budget(tmp_path: Path) -> None:
    db = str(tmp_path / "opt.db")
    args = ["--storage", db, "--study", "int", "--workers", "2", "--seed", "3",
            "--param", "fast=3:20", "--param", "slow=25:80"]  # fmt: skip
    proc = _start(*args, "--trials", "100000")  # a budget it cannot finish before the signal
    counted = {"n": 0}

    def some_finished() -> bool:
        if proc.poll() is not None:
            return True
        if not (tmp_path / "opt.db").exists():
            return False
        try:
            study = _study(db, "int")
        except (KeyError, OperationalError):  # not created yet
            return False
        counted["n"] = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
        return counted["n"] >= 3

    _wait(some_finished, "three finished trials")
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGINT)
    code, _, err = _finish(proc)
    assert code == 130, err
    assert "interrupted; finished trials are kept in study 'int'" in err
    assert "Traceback" not in err
    trials = _study(db, "int").get_trials()
    states = [t.state.name for t in trials]
    assert "RUNNING" not in states
    assert states.count("FAIL") <= 2  # at most the trial each worker was running
    kept = [(t.number, t.params) for t in trials if t.state.name == "COMPLETE"]
    assert len(kept) >= 3

    target = len(kept) + 2
    code, out, err = _finish(_start(*args, "--trials", str(target)))
    assert code == 0, err
    after = _study(db, "int").get_trials()
    done = [(t.number, t.params) for t in after if t.state.name == "COMPLETE"]
    assert done[: len(kept)] == kept
    assert len(done) == target
    assert json.loads(out)["windows"][0]["trials"]["complete"] == target

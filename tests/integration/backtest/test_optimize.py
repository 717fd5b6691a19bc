"""``main.py optimize`` on SQLite: a small walk-forward study, resume, and bad input.

Runs in this process (``main.main``) (``--workers 1``) on 20 days of the shipped 5-minute candles.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import structlog

import main
from config import UnifiedConfig
from kinetic.backtest.optimize import OptimizeSpec, run_optimize
from kinetic.backtest.optimize_space import parse_param
from kinetic.backtest.optimize_study import open_storage, resolve_storage
from kinetic.backtest.optimize_trial import Goal, TrialSetup
from kinetic.backtest.options import BacktestOptions
from tests.integration.daemon.support import REPO_ROOT

BTC_5M = REPO_ROOT / "data" / "backtest" / "binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"
DAY = 86_400_000
JAN_1 = 1_609_459_200_000
BASE = ["--env-file", "/dev/null", "optimize", "--strategy", "sma_cross", "--symbol", "BTCUSDT",
        "--data", str(BTC_5M), "--from", "2021-01-01", "--to", "2021-01-21", "--no-progress",
        "--workers", "1", "--seed", "7"]  # fmt: skip
SPACE = ["--param", "fast=3:20", "--param", "slow=25:80:5"]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main.main() configures structlog onto this test's stderr: undo it for later tests."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def _optimize(tmp: Path, *extra: str) -> dict:
    report = tmp / "report"
    code = main.main([*BASE, *SPACE, "--storage", str(tmp / "opt.db"), "--report", str(report),
                      *extra])  # fmt: skip
    assert code == 0
    return json.loads((report / "results.json").read_text())


def _trials(tmp: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    storage = open_storage(resolve_storage(str(tmp / "opt.db"), None, "unused"))
    return optuna.load_study(study_name=study, storage=storage).get_trials()


def test_walk_forward_study_reports_in_and_out_of_sample_per_window(tmp_path: Path) -> None:
    data = _optimize(tmp_path, "--study", "wf", "--trials", "3", "--train", "6d", "--test", "4d")
    wins = data["windows"]
    assert [(w["train"]["from"][:10], w["test"]["from"][:10], w["test"]["to"][:10])
            for w in wins] == [("2021-01-01", "2021-01-07", "2021-01-11"),
                               ("2021-01-05", "2021-01-11", "2021-01-15"),
                               ("2021-01-09", "2021-01-15", "2021-01-19")]  # fmt: skip
    for w in wins:
        assert w["trials"]["complete"] + w["trials"]["pruned"] == 3
        assert w["best"] is not None
        assert set(w["best"]["params"]) == {"fast", "slow"}
        # the in-sample score of the best parameters is the best trial's value
        assert w["in_sample"]["score"] == pytest.approx(w["best"]["score"])
        assert w["out_of_sample"]["score"] is not None
        assert "test" in w["buy_and_hold_pct"]
    assert data["best_params"] == wins[-1]["best"]["params"]
    assert "out_of_sample_score_mean" in data["summary"]
    html = (tmp_path / "report" / "report.html").read_text()
    for heading in ("Walk-forward windows", "Out-of-sample equity", "Objective history",
                    "Parameter importance", "Trials"):  # fmt: skip
        assert heading in html
    assert (tmp_path / "report" / "trials.csv").read_text().count("\n") == 1 + 9
    assert (tmp_path / "report" / "oos_equity.csv").read_text().startswith("timestamp,equity\n")


def test_rerun_resumes_the_study_and_keeps_its_finished_trials(tmp_path: Path) -> None:
    _optimize(tmp_path, "--study", "resume", "--trials", "3")
    before = [(t.number, t.params) for t in _trials(tmp_path, "resume")]
    assert len(before) == 3
    data = _optimize(tmp_path, "--study", "resume", "--trials", "5")
    after = _trials(tmp_path, "resume")
    assert [(t.number, t.params) for t in after[:3]] == before
    assert len(after) == 5
    assert data["windows"][0]["trials"]["complete"] + data["windows"][0]["trials"]["pruned"] == 5
    # the same budget again runs nothing new
    _optimize(tmp_path, "--study", "resume", "--trials", "5")
    assert len(_trials(tmp_path, "resume")) == 5


def test_rejoining_a_study_with_another_setup_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _optimize(tmp_path, "--study", "s", "--trials", "2")
    capsys.readouterr()
    code = main.main([*BASE, "--param", "fast=3:10", "--param", "slow=25:80:5", "--storage",
                      str(tmp_path / "opt.db"), "--study", "s", "--trials", "2"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]]
    assert "--study s: exists with a different setup (params differ)" in err[0]


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--param", "fast"], "--param 'fast': expected NAME=LOW:HIGH"),
        (["--param", "fast=9:2"], "LOW must be below HIGH"),
        (["--param", "nope=1:5"], "--param nope: sma_cross: unknown parameter(s)"),
        (["--param", "spot_stop_loss_pct=0:500"], "--param spot_stop_loss_pct:"),
        (["--param", "fast=3:9", "--strategy", "no_such"], "unknown strategy 'no_such'"),
        (["--param", "fast=3:9", "--train", "30d", "--test", "10d"], "no window fits"),
        (["--param", "fast=3:9", "--train", "5d"], "--train/--step/--anchored need --test"),
        (["--param", "fast=3:9", "--test", "2 weeks"], "--test '2 weeks': expected a duration"),
        (["--param", "fast=3:9", "--trials", "0"], "--trials=0 is invalid"),
        (["--param", "fast=3:9", "--max-drawdown", "0"], "--max-drawdown=0 is invalid"),
        (["--param", "fast=3.5:9", "--sampler", "grid"], "the grid sampler needs a step"),
        (["--param", "fast=3:9", "--space", "/no/such.yaml"], "--space /no/such.yaml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          flags: list[str], needle: str) -> None:  # fmt: skip
    code = main.main([*BASE, "--storage", str(tmp_path / "opt.db"), *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert needle in err[0]
    assert "Traceback" not in err[0]


def _spec(tmp: Path, study: str, goal: Goal, folds: int, trials: int) -> OptimizeSpec:
    options = BacktestOptions(strategy="sma_cross", symbols=("BTCUSDT",), data=(BTC_5M,),
                              start_ms=JAN_1, end_ms=JAN_1 + 12 * DAY)  # fmt: skip
    space = (parse_param("fast=3:20"), parse_param("slow=25:80"))
    return OptimizeSpec(setup=TrialSetup(UnifiedConfig(), options, space, goal, folds),
                        study=study, storage=resolve_storage(str(tmp / "opt.db"), None, ""),
                        trials=trials, workers=1, seed=5)  # fmt: skip


def test_folds_report_each_fold_and_the_median_pruner_stops_poor_trials_early(
    tmp_path: Path,
) -> None:
    result = run_optimize(_spec(tmp_path, "folds", Goal("return"), folds=3, trials=14))
    trials = optuna.load_study(study_name="folds", storage=open_storage(
        resolve_storage(str(tmp_path / "opt.db"), None, ""))).get_trials()  # fmt: skip
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    pruned = [t for t in trials if t.state.name == "PRUNED" and not t.user_attrs.get("invalid")]
    assert len(complete) + len(pruned) + sum(bool(t.user_attrs.get("invalid")) for t in trials) \
        == 14  # fmt: skip
    for t in complete:  # value = mean of the three folds, each reported as it finished
        assert sorted(t.intermediate_values) == [0, 1, 2]
        scores = t.user_attrs["result"]["fold_scores"]
        assert t.value == pytest.approx(sum(scores) / 3)
        assert t.intermediate_values[2] == pytest.approx(t.value)
    assert pruned, "no trial was pruned"
    assert all(len(t.intermediate_values) < 3 for t in pruned)  # stopped before the last fold
    assert result.windows[0].best is not None


def test_drawdown_cap_makes_trials_infeasible_and_the_best_respects_it(tmp_path: Path) -> None:
    result = run_optimize(_spec(tmp_path, "cap", Goal("return", max_drawdown_pct=4.0), 1, 8))
    w = result.windows[0]
    rows = [r for r in w.trials if r["state"] == "COMPLETE"]
    for r in rows:
        assert r["feasible"] == (r["metrics"]["max_drawdown_pct"] <= 4.0)
    feasible = [r for r in rows if r["feasible"]]
    if feasible:
        assert w.best is not None
        assert w.best["value"] == max(r["value"] for r in feasible)
        assert w.in_sample is not None
        assert w.in_sample["max_drawdown_pct"] <= 4.0
    else:
        assert w.best is None
    assert any(not r["feasible"] for r in rows), "the cap should exclude some trials"

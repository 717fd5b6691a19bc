"""Search-space syntax, walk-forward windows and the objective (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigValidationError
from kinetic.backtest.optimize_space import build_space, grid_space, parse_param
from kinetic.backtest.optimize_trial import PF_CAP, Goal, fold_bounds
from kinetic.backtest.optimize_windows import make_windows, parse_duration

DAY = 86_400_000


def test_int_range_with_step_and_float_log_and_categorical_are_parsed() -> None:
    slow = parse_param("slow=20:200:10")
    assert (slow.kind, slow.low, slow.high, slow.step) == ("int", 20, 200, 10)
    assert slow.grid_values()[:3] == [20, 30, 40]
    assert slow.grid_values()[-1] == 200
    stop = parse_param("spot_stop_loss_pct=0.5:3.0:log")
    assert (stop.kind, stop.log, stop.is_config_field) == ("float", True, True)
    ma = parse_param("ma=sma,ema")
    assert (ma.kind, ma.choices, ma.fixed) == ("categorical", ("sma", "ema"), False)
    assert parse_param("allow_short=true").fixed


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("fast", "expected NAME=LOW:HIGH"),
        ("fast=50:5", "LOW must be below HIGH"),
        ("fast=a:5", "'a' is not a number"),
        ("fast=1:2:3:4", "expected LOW:HIGH"),
        ("x=0:1:log", "LOW > 0"),
        ("x=1:2:0", "STEP must be > 0"),
        ("ma=sma,,ema", "empty value"),
        ("=1:2", "expected NAME="),
    ],
)
def test_bad_param_syntax_names_the_flag(item: str, needle: str) -> None:
    with pytest.raises(ConfigValidationError, match=f"--param '{item}'") as info:
        parse_param(item)
    assert needle in str(info.value)


def test_yaml_space_is_read_and_a_flag_overrides_its_entry(tmp_path: Path) -> None:
    f = tmp_path / "space.yaml"
    f.write_text(
        "params:\n  fast: '5:50'\n  slow: {low: 20, high: 200, step: 10}\n  ma: [sma, ema]\n"
    )
    space = {p.name: p for p in build_space(["fast=10:20"], f)}
    assert space["fast"].describe() == "10:20"
    assert space["slow"].describe() == "20:200:10"
    assert space["ma"].choices == ("sma", "ema")


def test_grid_needs_a_step_for_floats_and_counts_points() -> None:
    with pytest.raises(ConfigValidationError, match="needs a step"):
        grid_space([parse_param("x=0.5:1.5")])
    grid = grid_space([parse_param("fast=5:20:5"), parse_param("x=0.5:1.5:0.5")])
    assert grid == {"fast": [5, 10, 15, 20], "x": [0.5, 1.0, 1.5]}


def test_rolling_windows_tile_the_data_and_test_stretches_follow_each_other() -> None:
    ws = make_windows(0, 20 * DAY, 6 * DAY, 4 * DAY)
    assert [(w.train_start, w.train_end, w.test_start, w.test_end) for w in ws] == [
        (0, 6 * DAY, 6 * DAY, 10 * DAY),
        (4 * DAY, 10 * DAY, 10 * DAY, 14 * DAY),
        (8 * DAY, 14 * DAY, 14 * DAY, 18 * DAY),
    ]
    anchored = make_windows(0, 20 * DAY, 6 * DAY, 4 * DAY, anchored=True)
    assert {w.train_start for w in anchored} == {0}
    assert [w.train_end for w in anchored] == [6 * DAY, 10 * DAY, 14 * DAY]
    holdout = make_windows(0, 20 * DAY, None, 5 * DAY)
    assert [(w.train_end, w.test_start, w.test_end) for w in holdout] == [
        (15 * DAY, 15 * DAY, 20 * DAY)
    ]


@pytest.mark.parametrize(
    ("train", "test", "needle"),
    [(15 * DAY, 10 * DAY, "no window fits"), (None, 30 * DAY, "not shorter than the data")],
)
def test_windows_that_do_not_fit_are_refused(train: int | None, test: int, needle: str) -> None:
    with pytest.raises(ConfigValidationError, match=needle):
        make_windows(0, 20 * DAY, train, test)


def test_durations_parse_and_bad_ones_name_the_flag() -> None:
    assert parse_duration("90d", "--train") == 90 * DAY
    assert parse_duration("36h", "--test") == 36 * 3_600_000
    with pytest.raises(ConfigValidationError, match="--train '3 months'"):
        parse_duration("3 months", "--train")


def test_goal_scores_undefined_metrics_as_zero_and_applies_constraints() -> None:
    assert Goal("sharpe").score({"sharpe": None}) == 0.0
    assert Goal("return").score({"total_return_pct": 12.5}) == 12.5
    assert Goal("profit_factor").score({"profit_factor": None, "trades": 3}) == PF_CAP
    assert Goal("profit_factor").score({"profit_factor": None, "trades": 0}) == 0.0
    capped = Goal("return", max_drawdown_pct=20.0, min_trades=2)
    assert capped.feasible({"max_drawdown_pct": 19.9, "trades": 2})
    assert not capped.feasible({"max_drawdown_pct": 20.1, "trades": 2})
    assert not capped.feasible({"max_drawdown_pct": 5.0, "trades": 1})


def test_folds_cut_the_window_into_consecutive_pieces() -> None:
    assert fold_bounds(0, 10, 3) == [(0, 3), (3, 6), (6, 10)]

"""Metrics and options: pure functions checked on hand-computed numbers."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from config import ConfigValidationError
from kinetic.backtest.metrics import curve_metrics, daily_returns, max_drawdown, trade_metrics
from kinetic.backtest.options import BacktestOptions, backtest_config, parse_sets
from kinetic.backtest.plots import monthly_returns
from kinetic.domain import ClosedTrade, PositionSide
from tests.unit.backtest.bt_kit import base_config

DAY = 86_400_000


def _trade(pnl: str, fees: str = "1") -> ClosedTrade:
    return ClosedTrade(
        "spot",
        "BTCUSDT",
        PositionSide.LONG,
        Decimal(1),
        Decimal(100),
        Decimal(100),
        0,
        60_000,
        Decimal(pnl),
        Decimal(fees),
        "x",
    )


def test_max_drawdown_depth_and_duration_until_recovery() -> None:
    ts = np.arange(6, dtype=np.int64) * 1000
    eq = np.array([100.0, 120.0, 90.0, 96.0, 121.0, 110.0])
    dd = max_drawdown(ts, eq)
    assert dd.max_pct == pytest.approx(25.0)
    assert (dd.peak_ms, dd.trough_ms, dd.end_ms) == (1000, 2000, 4000)
    assert dd.duration_s == 3.0


def test_daily_returns_use_each_days_last_value() -> None:
    ts = np.array([0, DAY // 2, DAY, DAY + 5, 2 * DAY], dtype=np.int64)
    eq = np.array([100.0, 110.0, 99.0, 121.0, 133.1])
    assert daily_returns(ts, eq) == pytest.approx([0.1, 0.1, 0.1])


def test_curve_metrics_total_return_and_undefined_ratios() -> None:
    ts = np.array([0, DAY], dtype=np.int64)
    m = curve_metrics(ts, np.array([100.0, 100.0]), 100.0)
    assert m["total_return_pct"] == 0.0
    assert m["sharpe"] is None  # one daily return: no deviation


def test_trade_metrics_profit_factor_expectancy_win_rate() -> None:
    m = trade_metrics([_trade("30"), _trade("-10"), _trade("-20"), _trade("40")])
    assert m["trades"] == 4
    assert m["win_rate_pct"] == 50.0
    assert m["profit_factor"] == pytest.approx(70 / 30)
    assert m["expectancy_usd"] == pytest.approx(10.0)
    assert m["avg_trade_usd"] == pytest.approx(10.0)


def test_monthly_returns_chain_month_ends() -> None:
    jan, feb = 1_609_459_200_000, 1_612_137_600_000  # 2021-01-01, 2021-02-01 UTC
    ts = np.array([jan, jan + DAY, feb, feb + DAY], dtype=np.int64)
    out = monthly_returns(ts, np.array([100.0, 110.0, 99.0, 121.0]))
    assert out == pytest.approx({"2021-01": 10.0, "2021-02": 10.0})


def test_raw_switches_limits_off_and_set_overrides_fields() -> None:
    opts = BacktestOptions(raw=True, sets={"slippage_bps": "0"}, cash=500.0, fee=0.001)
    cfg = backtest_config(base_config(), opts, all_in=True)
    assert cfg.global_daily_loss_limit_pct > 100
    assert cfg.global_max_drawdown_pct > 100
    assert cfg.spot_position_size_pct == 100.0
    assert cfg.slippage_bps == 0.0
    assert cfg.initial_capital_usd == 500.0
    assert cfg.taker_fee_pct == pytest.approx(0.1)


def test_bad_set_is_one_line_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigValidationError, match="slippage_bps") as err:
        backtest_config(base_config(), BacktestOptions(sets={"slippage_bps": "-3"}), False)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigValidationError, match="unknown field 'nope'"):
        backtest_config(base_config(), BacktestOptions(sets={"nope": "1"}), False)
    with pytest.raises(ConfigValidationError, match="FIELD=VALUE"):
        parse_sets(["novalue"])


def test_short_on_spot_and_raw_with_both_engines_are_refused() -> None:
    with pytest.raises(ConfigValidationError, match="allow-short"):
        backtest_config(base_config(), BacktestOptions(allow_short=True), False)
    with pytest.raises(ConfigValidationError, match="--raw"):
        backtest_config(
            base_config(), BacktestOptions(engines=("spot", "futures"), raw=True), False
        )

"""The report's cost fields: fees/funding share of gross profit, refusals, breakers, warning."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from config import UnifiedConfig
from kinetic.backtest.cli import render_text
from kinetic.backtest.costs_report import cost_warning
from kinetic.backtest.data import parse_time_ms
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.report import write_report
from kinetic.backtest.runner import BacktestRunner

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"


def test_warning_when_fees_exceed_half_of_the_gross_profit() -> None:
    assert cost_warning(49.0, 100.0) is None
    assert cost_warning(50.0, 100.0) is None  # exactly half: not more than half
    warning = cost_warning(51.0, 100.0)
    assert warning == "WARNING: fees 51.00 are 51% of the gross profit 100.00"
    assert cost_warning(10.0, -5.0) == "WARNING: fees 10.00 paid while the gross profit was -5.00"
    assert cost_warning(0.0, -5.0) is None  # no trade, no fee: nothing to warn about


def test_backtest_summary_json_and_html_report_costs_refusals_and_breakers(
    tmp_path: Path,
) -> None:
    # a tight drawdown limit so a breaker trips, the old 2 x ATR stops so some stop out
    opts = BacktestOptions(
        engines=("futures",), symbols=("BTCUSDT",), data=(DATA,), strategy="futures_regime",
        start_ms=parse_time_ms("2020-12-01", "f"), end_ms=parse_time_ms("2020-12-20", "t"),
        sets={"global_max_drawdown_pct": "3", "futures_min_confidence": "50",
              "futures_atr_stop_multiplier": "2"},
        params={"fast": "20", "slow": "50"},
    )  # fmt: skip
    result = asyncio.run(BacktestRunner(UnifiedConfig(), opts, progress=False).run())
    data = write_report(result, tmp_path)
    fees, gross = data["fees_paid"], data["gross_profit"]
    net = data["final_equity"] - data["start_equity"]
    assert abs(gross - (net + fees - data["funding"])) < 1e-6
    assert data["cost_warning"] == cost_warning(fees, gross)
    if gross > 0:
        assert abs(data["fees_share_of_gross_pct"] - fees / gross * 100) < 1e-6
    else:
        assert data["fees_share_of_gross_pct"] is None
    refused = data["refused_entries"]["futures"]
    assert refused["circuit_breaker"] > 0  # entries asked for after the drawdown halt
    assert sum(data["exit_reasons"].values()) == data["trades"]
    [trip] = data["breaker_timeline"]
    assert trip["breaker"] == "drawdown"
    assert trip["until"] is None
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["refused_entries"] == data["refused_entries"]
    page = (tmp_path / "report.html").read_text()
    assert "<h2>Refused entries</h2>" in page
    assert "<h2>Circuit breakers</h2>" in page
    assert trip["at"] in page
    text = render_text(data)
    assert "fees_share_of_gross_pct" in text
    if data["cost_warning"]:
        assert text.endswith(data["cost_warning"])
        assert "class='warn'" in page

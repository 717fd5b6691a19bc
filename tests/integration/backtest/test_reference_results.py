"""Published results of other backtesters, reproduced exactly (docs/backtesting.md).

Each reference runs the command line the docs give (parsed by the real ``backtest``
parser) on the data copied from that project's test suite (tests/data/reference/, with
its provenance in README.md there), and checks the trades and the final equity to the
cent against the numbers that project's own tests assert.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import shlex
from decimal import Decimal
from pathlib import Path

import pytest

from kinetic.backtest.cli import add_arguments, options_from_args
from kinetic.backtest.runner import BacktestResult
from kinetic.domain import PositionSide
from tests.unit.backtest.bt_kit import run_async

ROOT = Path(__file__).resolve().parents[3]
REF = ROOT / "tests/data/reference"
CENT = Decimal("0.01")

# the command lines exactly as docs/backtesting.md gives them (after "python main.py")
GOOG = (
    "backtest --engine futures --strategy sma_cross --param fast=10 --param slow=30 "
    "--allow-short --leverage 1 --symbol GOOG --data tests/data/reference/GOOG_1d.csv "
    "--cash 10000 --fee 0 --fill next_open --units whole --at-end open --raw"
)
BTC = (
    "backtest --engine futures --strategy sma_cross --param fast=2 --param slow=3 "
    "--allow-short --leverage 1 --symbol BTCUSD --data tests/data/reference/BTCUSD_1mo.csv "
    "--from 2015-01-01 --cash 100 --fee 0 --fill next_open --units 0.000001 --at-end open --raw"
)
BACKTRADER = (
    "backtest --engine futures --strategy sma_cross --param fast=1 --param slow=15 "
    "--leverage 10 --stake 10 --symbol SAMPLE --data tests/data/reference/SAMPLE_2006_1d.csv "
    "--from 2006-01-01 --to 2006-12-31 --cash 10000 --fee 0 --fee-fixed 2 --fill next_open "
    "--at-end keep --raw"
)


async def _run(command: str) -> BacktestResult:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    add_arguments(parser)
    args = parser.parse_args(shlex.split(command))
    args.data = [str(ROOT / p) for p in args.data]
    return await run_async(options_from_args(args))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


async def test_backtesting_py_smacross_on_goog_daily() -> None:
    """backtesting.py ``test_compute_stats``: SmaCross(10, 30), GOOG 2004-2013, $10,000."""
    result = await _run(GOOG)
    trades = result.trades
    assert len(trades) == 66
    assert _cents(result.final_equity) == Decimal("51422.99")  # 51422.98999999996
    assert sum(t.pnl > 0 for t in trades) / len(trades) * 100 == pytest.approx(46.96969696969697)
    returns = [
        float((t.exit_price / t.entry_price - 1) * (1 if t.side is PositionSide.LONG else -1))
        for t in trades
    ]
    assert max(returns) * 100 == pytest.approx(53.59595229490424, rel=1e-9)
    assert min(returns) * 100 == pytest.approx(-18.39887353835481, rel=1e-9)
    # always in the market after the first cross: each exit is the next entry, same price
    for before, after in itertools.pairwise(trades):
        assert before.side is not after.side
        assert before.closed_ms == after.opened_ms
        assert before.exit_price == after.entry_price
    assert trades[-1].exit_reason == "end_of_data"
    assert trades[-1].exit_price == Decimal("797.80")  # the last bar's open (finalize_trades)


async def test_backtesting_py_fractional_smacross_on_monthly_btc() -> None:
    """backtesting.py ``test_FractionalBacktest``: SmaCross(2, 3), BTCUSD monthly from 2015,
    $100, units of 1e-6 BTC. Its test asserts 42 trades and a first entry at 236.69; the
    final equity is backtesting.py 0.6.6's own (``Equity Final [$]`` 2577.4498176999987)."""
    result = await _run(BTC)
    trades = result.trades
    assert len(trades) == 42
    first = trades[0]
    assert first.entry_price == Decimal("236.69")
    assert (first.side, first.quantity) == (PositionSide.SHORT, Decimal("0.422493"))
    assert _cents(result.final_equity) == Decimal("2577.45")
    assert abs(result.final_equity - Decimal("2577.4498176999987")) < Decimal("1e-9")


BUYEXEC = [
    "3643.35", "3801.03", "3872.37", "3863.57", "3845.32", "3656.43",
    "3542.65", "3639.65", "3799.86", "3840.20", "4047.63", "4052.55",
]  # fmt: skip
SELLEXEC = [
    "3763.95", "3811.85", "3822.35", "3822.57", "3829.82", "3598.58",
    "3545.92", "3766.80", "3782.15", "3979.73", "4045.05",
]  # fmt: skip


async def test_backtrader_sma_crossover_with_a_fixed_stake() -> None:
    """backtrader ``tests/test_strategy_unoptimized.py``: close crossing SMA(15), one
    contract (x10) per entry, 2.0 commission per contract; final value 12795.00."""
    result = await _run(BACKTRADER)
    trades = result.trades
    assert [f"{t.entry_price:.2f}" for t in trades] == BUYEXEC[:-1]
    assert [f"{t.exit_price:.2f}" for t in trades] == SELLEXEC
    assert all(t.quantity == 10 and t.side is PositionSide.LONG for t in trades)
    assert _cents(result.final_equity) == Decimal("12795.00")  # the last long still open
    assert result.fees == Decimal(2 * (2 * len(trades) + 1))


@pytest.mark.parametrize(
    ("original", "converted"),
    [
        ("backtesting_py_GOOG.csv", "GOOG_1d.csv"),
        ("backtesting_py_BTCUSD.csv", "BTCUSD_1mo.csv"),
        ("backtrader_2006-day-001.txt", "SAMPLE_2006_1d.csv"),
    ],
)
def test_reference_data_is_the_original_with_dates_as_utc_epoch_ms(
    original: str, converted: str
) -> None:
    """The converted file holds the original's rows, the date as UTC midnight in ms."""
    with (REF / "original" / original).open(newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    expected = [["timestamp", "open", "high", "low", "close", "volume"]]
    for row in rows:
        day = dt.datetime.strptime(row[0], "%Y-%m-%d").replace(tzinfo=dt.UTC)
        expected.append([str(int(day.timestamp()) * 1000), *row[1:6]])
    with (REF / converted).open(newline="") as fh:
        assert list(csv.reader(fh)) == expected

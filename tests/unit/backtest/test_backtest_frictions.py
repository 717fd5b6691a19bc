"""Frictions and sizing options: --raw without slippage, --slippage-bps, --units STEP,
--stake, --fee-fixed and --at-end (checked on hand-built candles)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config import ConfigValidationError
from kinetic.backtest.options import BacktestOptions, backtest_config, unit_step
from tests.unit.backtest.bt_kit import base_config, run_async, write_candles

# sma_cross(2, 3) with shorting: short from bar 6, long from bar 8, short from bar 11
ZIGZAG = [10, 10, 10, 13, 16, 12, 8, 8, 12, 16, 16, 10, 6, 6, 6]
OPENS = [10, *ZIGZAG[:13], 7]  # each bar opens at the previous close; the last at 7


def _candles(tmp_path: Path) -> Path:
    return write_candles(tmp_path / "BTCUSDT_1m.csv", [float(c) for c in ZIGZAG], opens=OPENS)


def test_raw_is_frictionless_apart_from_the_fee_unless_slippage_is_asked_for() -> None:
    base = base_config()
    assert base.slippage_bps > 0
    assert backtest_config(base, BacktestOptions(raw=True), False).slippage_bps == 0
    asked = BacktestOptions(raw=True, slippage_bps=5.0)
    assert backtest_config(base, asked, False).slippage_bps == 5.0
    by_set = BacktestOptions(raw=True, sets={"slippage_bps": "3"})
    assert backtest_config(base, by_set, False).slippage_bps == 3.0
    assert backtest_config(base, BacktestOptions(slippage_bps=0.0), False).slippage_bps == 0


@pytest.mark.parametrize(
    ("opts", "flag"),
    [
        (BacktestOptions(units="0"), "--units"),
        (BacktestOptions(units="lots"), "--units"),
        (BacktestOptions(stake=0.0), "--stake"),
        (BacktestOptions(slippage_bps=-1.0), "--slippage-bps"),
        (BacktestOptions(fee_fixed=-2.0), "--fee-fixed"),
    ],
)
def test_bad_friction_options_are_one_line_errors_naming_the_flag(
    opts: BacktestOptions, flag: str
) -> None:
    with pytest.raises(ConfigValidationError, match=flag):
        backtest_config(base_config(), opts, False)


def test_units_name_a_quantity_step() -> None:
    assert unit_step("whole") == 1
    assert unit_step("fractional") == Decimal("0.00000001")
    assert unit_step("0.000001") == Decimal("0.000001")
    assert unit_step("exchange") is None


def _opts(path: Path, **kw: object) -> BacktestOptions:
    base: dict[str, object] = {
        "engines": ("futures",),
        "symbols": ("BTCUSDT",),
        "data": (path,),
        "strategy": "sma_cross",
        "params": {"fast": "2", "slow": "3"},
        "raw": True,
        "cash": 1000.0,
        "leverage": 1,
        "fee": 0.0,
        "fill": "next_open",
    }
    return BacktestOptions(**(base | kw))  # type: ignore[arg-type]


async def test_stake_fixes_every_entry_and_fee_fixed_is_charged_per_fill(tmp_path: Path) -> None:
    path = _candles(tmp_path)
    result = await run_async(
        _opts(path, allow_short=True, stake=30.0, fee_fixed=0.5, units="0.001")
    )  # 30 units: at least the symbol's minimum notional (100 USDT)
    assert [t.quantity for t in result.trades] == [Decimal(30)] * 3
    assert result.fees == Decimal("0.5") * 6  # three round trips, two fills each


async def test_all_in_entries_take_the_step_given_by_units(tmp_path: Path) -> None:
    path = _candles(tmp_path)
    result = await run_async(_opts(path, allow_short=True, units="0.001"))
    first = result.trades[0]
    # all of the 1000 at the fill price, floored to 0.001
    assert first.quantity == (Decimal(1000) / first.entry_price).quantize(
        Decimal("0.001"), "ROUND_DOWN"
    )


@pytest.mark.parametrize(("at_end", "trades", "last_exit"), [("close", 3, 6), ("open", 3, 7)])
async def test_at_end_closes_at_the_last_close_or_open(
    tmp_path: Path, at_end: str, trades: int, last_exit: int
) -> None:
    path = _candles(tmp_path)
    result = await run_async(_opts(path, allow_short=True, at_end=at_end))
    assert len(result.trades) == trades
    assert result.trades[-1].exit_price == last_exit  # the last bar opens at 7, closes at 6


async def test_at_end_keep_leaves_the_position_open_and_values_it(tmp_path: Path) -> None:
    path = _candles(tmp_path)
    kept = await run_async(_opts(path, allow_short=True, at_end="keep"))
    closed = await run_async(_opts(path, allow_short=True, at_end="close"))
    assert len(kept.trades) == len(closed.trades) - 1
    assert kept.final_equity == closed.final_equity  # no fee: the same value at the close

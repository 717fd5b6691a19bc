"""Fast-forward over quiet bars: the reports are byte-identical to stepping every bar."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kinetic.backtest.data import parse_time_ms
from kinetic.backtest.options import BacktestOptions
from kinetic.backtest.report import write_report
from tests.unit.backtest.bt_kit import CRASH_5M, ROOT, run_async

DATA = ROOT / "data/backtest"
FILES = ("summary.json", "trades.csv", "equity.csv", "report.html")


def _bench_slice(path: Path, bars: int) -> None:
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts/bench_backtest.py")
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.build_bars(bars, path)


async def _both(opts: BacktestOptions, tmp: Path) -> int:
    """Run with and without skipping; assert identical reports; return bars skipped."""
    outs, skipped = [], []
    for skip in (True, False):
        result = await run_async(BacktestOptions(**(vars(opts) | {"skip": skip})))
        folder = tmp / str(skip)
        write_report(result, folder)
        outs.append({f: (folder / f).read_bytes() for f in FILES})
        skipped.append(result.skipped)
    assert skipped[1] == 0
    for f in FILES:
        assert outs[0][f] == outs[1][f], f"{f} differs between skip and no-skip"
    return skipped[0]


async def test_bench_slice_raw_spot_next_open_is_identical(tmp_path: Path) -> None:
    data = tmp_path / "BTCUSDT_1m.csv"
    _bench_slice(data, 50_000)
    opts = BacktestOptions(
        symbols=("BTCUSDT",), data=(data,), strategy="sma_cross",
        params={"fast": "20", "slow": "50"}, cash=1e12, fee=0.001, fill="next_open",
        units="whole", raw=True, sets={"slippage_bps": "0"},
    )  # fmt: skip
    assert await _both(opts, tmp_path) > 40_000


async def test_spot_with_stops_and_breakers_is_identical(tmp_path: Path) -> None:
    """Not raw: stop-loss / take-profit levels and live risk limits are in force."""
    opts = BacktestOptions(
        symbols=("BTCUSDT",), data=(DATA / "binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz",),
        strategy="sma_cross", params={"fast": "5", "slow": "12"}, fill="close",
        units="fractional", start_ms=parse_time_ms("2021-04-01", "--from"),
        end_ms=parse_time_ms("2021-06-01", "--to"),
        sets={"spot_stop_loss_pct": "1.0", "spot_take_profit_pct": "1.5"},
    )  # fmt: skip
    assert await _both(opts, tmp_path) > 0


async def test_futures_crash_with_breakers_is_identical(tmp_path: Path) -> None:
    opts = BacktestOptions(
        engines=("futures",), symbols=("BTCUSDT",), data=(CRASH_5M,), strategy="sma_cross",
        leverage=5, allow_short=True, start_ms=parse_time_ms("2021-05-10", "--from"),
        end_ms=parse_time_ms("2021-05-26", "--to"),
    )  # fmt: skip
    await _both(opts, tmp_path)


@pytest.mark.parametrize("engines", [("spot",), ("spot", "futures")])
async def test_two_symbols_are_identical(tmp_path: Path, engines: tuple[str, ...]) -> None:
    opts = BacktestOptions(
        engines=engines, symbols=("BTCUSDT", "ETHUSDT"),
        data=(DATA / "binance_BTCUSDT_1m_2021-04-20_2021-05-20.csv.gz",
              DATA / "binance_ETHUSDT_1m_2021-04-20_2021-05-20.csv.gz"),
        strategy="sma_cross", start_ms=parse_time_ms("2021-05-01", "--from"),
        end_ms=parse_time_ms("2021-05-08", "--to"),
    )  # fmt: skip
    assert await _both(opts, tmp_path) > 0


async def test_refusals_held_by_a_breaker_count_the_same(tmp_path: Path) -> None:
    """A drawdown latch holds both engines' entries for most of the month: a flat
    engine's first signal under it is a ``circuit_breaker`` refusal, which skipping must
    not leave out (it once counted 5 where stepping counts 6); later ones in the same
    episode are skipped."""
    opts = BacktestOptions(
        engines=("spot", "futures"), symbols=("BTCUSDT", "ETHUSDT"),
        data=(DATA / "binance_BTCUSDT_1m_2021-04-20_2021-05-20.csv.gz",
              DATA / "binance_ETHUSDT_1m_2021-04-20_2021-05-20.csv.gz"),
        strategy="sma_cross", params={"fast": "10", "slow": "30"},
    )  # fmt: skip
    result = await run_async(opts)
    assert result.refusals["spot"]["circuit_breaker"] == 6
    assert result.skipped > 40_000
    assert await _both(opts, tmp_path) > 40_000

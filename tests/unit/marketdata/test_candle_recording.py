"""CandleRecorder: append-only candle files in the replay/backtest format."""

from __future__ import annotations

import math
from pathlib import Path

from kinetic.backtest.options import BacktestOptions
from kinetic.domain import Candle
from kinetic.marketdata.files import read_candles
from kinetic.marketdata.recording import HEADER, CandleRecorder
from tests.unit.backtest.bt_kit import MINUTE_MS, T0_MS, run_async


def _candle(i: int, close: float, symbol: str = "BTCUSDT") -> Candle:
    t = T0_MS + i * MINUTE_MS
    return Candle(symbol, t, t + MINUTE_MS - 1, close - 0.1, close + 0.7, close - 0.9, close, 1.5)


def test_candles_are_written_once_each_and_read_back_exactly(tmp_path: Path) -> None:
    rec = CandleRecorder(tmp_path, "1m")
    closes = [100.0 + math.sin(i / 3) * 7 + i * 0.01 for i in range(50)]  # awkward floats
    for i, c in enumerate(closes):
        rec("spot", _candle(i, c))
    rec("spot", _candle(10, 1.0))  # a late duplicate: not written again
    rec("futures", _candle(0, 5.0, "ETHUSDT"))
    path = tmp_path / "spot/BTCUSDT_1m.csv"
    assert path.read_text().startswith(HEADER)
    arrays = read_candles(path, "BTCUSDT")
    assert arrays.interval_ms == MINUTE_MS
    assert arrays.close.tolist() == closes  # repr round-trips: the very floats received
    assert arrays.open_time_ms.tolist() == [T0_MS + i * MINUTE_MS for i in range(50)]
    assert rec.written == 51
    assert (tmp_path / "futures/ETHUSDT_1m.csv").exists()


def test_a_restart_resumes_after_the_last_row_and_cuts_a_torn_line(tmp_path: Path) -> None:
    first = CandleRecorder(tmp_path, "5m")
    for i in range(5):
        first("spot", _candle(i, 100.0 + i))
    path = first.path("spot", "BTCUSDT")
    with path.open("a") as fh:  # a crash in the middle of writing row 5
        fh.write(f"{T0_MS + 5 * MINUTE_MS},105.0,10")
    second = CandleRecorder(tmp_path, "5m")
    for i in range(3, 8):  # a warm-up overlapping what is already on disk
        second("spot", _candle(i, 100.0 + i))
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER.strip()
    assert [int(x.split(",")[0]) for x in lines[1:]] == [T0_MS + i * MINUTE_MS for i in range(8)]
    assert second.written == 3


def test_an_unwritable_folder_is_logged_and_the_feed_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    rec = CandleRecorder(blocker, "1m")
    rec("spot", _candle(0, 100.0))  # no exception
    assert rec.written == 0


async def test_the_backtester_runs_on_recorded_candles(tmp_path: Path) -> None:
    rec = CandleRecorder(tmp_path / "recorded", "1m")
    for i in range(400):
        rec("spot", _candle(i, 100.0 + 10 * math.sin(i / 15)))
    opts = BacktestOptions(
        symbols=("BTCUSDT",),
        data=(tmp_path / "recorded/spot",),
        strategy="sma_cross",
        params={"fast": "5", "slow": "20"},
        raw=True,
        cash=10_000.0,
        units="fractional",
    )
    result = await run_async(opts)
    assert result.bars == 400
    assert len(result.trades) > 3


def test_a_write_that_fails_midway_is_repaired_before_the_next_row(tmp_path: Path) -> None:
    """A full disk (here: a file-size limit) leaves half a row; the next row is clean."""
    import resource
    import signal

    rec = CandleRecorder(tmp_path, "1m")
    for i in range(20_000):  # ~1 MB: the limit below stays far above pytest's own files
        rec("spot", _candle(i, 100.0 + i % 50))
    path = rec.path("spot", "BTCUSDT")
    size = path.stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 25, hard))
        rec("spot", _candle(20_000, 7.0))  # only 25 bytes of the row reach the file
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert path.stat().st_size == size + 25  # the torn row is on disk
    assert rec.written == 20_000
    rec("spot", _candle(20_001, 8.0))
    arrays = read_candles(path, "BTCUSDT")
    assert len(arrays) == 20_001  # rows 0..19,999 and 20,001; the torn row is gone
    assert arrays.close.tolist()[-1] == 8.0
    assert int(arrays.open_time_ms[-1]) == T0_MS + 20_001 * MINUTE_MS

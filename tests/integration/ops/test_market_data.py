"""Market data tools (issue 14 item 5) against the fake Binance venue on 127.0.0.1.

``data download`` pages through klines with the real Binance client (its limiter and
``Retry-After`` handling on an injected 429), resumes after an interruption (the staged
rows kept, a torn last row cut off, nothing written twice) and leaves a gap-free Parquet
file that the backtest loader reads; ``import`` reads Binance archive ZIPs (µs open
times) and freqtrade JSON into Parquet; ``check`` finds gaps, duplicates, rows out of
order and impossible OHLC rows in CSV and Parquet files; the CLI answers bad input with
one line and exit 2 and writes nothing. Funding rates and mark prices:
``test_market_history.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from kinetic.marketdata.files import load_columns, read_candles
from kinetic.ops import data, data_store
from kinetic.ops.data_check import check_file, list_files
from kinetic.venues.binance import BinanceSpotClient
from kinetic.venues.fakes.binance_server import FakeBinance
from tests.fake_venues.fast_clock import FastClock

MIN = 60_000
T0 = 1_700_000_000_000 // MIN * MIN
N = 2_345  # candles on the venue: three pages of 1000
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def venue() -> AsyncIterator[tuple[FakeBinance, BinanceSpotClient, FastClock]]:
    clock = FastClock((T0 + (N + 5) * MIN) / 1000)
    server = FakeBinance(futures=False, clock=clock)
    for i in range(N):
        server.add_candle("BTCUSDT", T0 + i * MIN, 100.0 + (i % 7))
    await server.start()
    client = BinanceSpotClient(clock, base_url=server.url)
    try:
        yield server, client, clock
    finally:
        await client.close()
        await server.stop()


async def test_download_pages_honours_429_and_resumes_without_duplicates(
    venue: tuple[FakeBinance, BinanceSpotClient, FastClock], tmp_path: Path
) -> None:
    server, client, clock = venue
    end = T0 + N * MIN
    first = await data.download(client, "binance", ["BTCUSDT"], "1m", T0, T0 + 1500 * MIN, tmp_path)
    assert first == {"BTCUSDT": 1500}
    path = data.file_for(tmp_path, "binance", "BTCUSDT", "1m")
    assert path.suffix == ".parquet"
    assert not data_store.staging_path(path).exists()  # merged when the range was done
    # the process died after staging 100 more candles, in the middle of writing a row
    staged = data_store.staging_path(path)
    staged.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{T0 + i * MIN},1.0,2.0,0.5,1.5,3.0\n" for i in range(1500, 1600))
        + f"{T0 + 1600 * MIN},100.0,101"
    )
    server.inject("429", path="/api/v3/klines", times=1, retry_after=7)
    second = await data.download(client, "binance", ["BTCUSDT"], "1m", T0, end, tmp_path)
    assert second == {"BTCUSDT": N - 1600}  # resumed after the staged rows; the torn one again
    assert 7 in clock.sleeps  # the venue's Retry-After was honoured (on the test clock)
    assert not staged.exists()
    report = check_file(path)
    assert report.ok, report.as_dict()
    assert (report.rows, report.first_ms, report.last_ms) == (N, T0, end - MIN)
    candles = read_candles(path, "BTCUSDT")  # what replay/backtest/optimize load
    assert len(candles.open_time_ms) == N
    assert candles.interval_ms == MIN
    assert candles.close[1599] == 1.5  # the staged row
    assert candles.close[1600] == 100.0 + 1600 % 7  # the torn one, from the venue
    assert await data.download(client, "binance", ["BTCUSDT"], "1m", T0, end, tmp_path) == {
        "BTCUSDT": 0
    }


async def test_download_fills_the_range_before_between_and_after_what_the_file_has(
    venue: tuple[FakeBinance, BinanceSpotClient, FastClock], tmp_path: Path
) -> None:
    server, client, _clock = venue
    path = data.file_for(tmp_path, "binance", "BTCUSDT", "1m")
    middle = await data.download(client, "binance", ["BTCUSDT"], "1m", T0 + 1000 * MIN,
                                 T0 + 1500 * MIN, tmp_path)  # fmt: skip
    assert middle == {"BTCUSDT": 500}
    cols = load_columns(path)  # punch a hole: drop candles 1200..1209
    keep = (cols[0] < T0 + 1200 * MIN) | (cols[0] >= T0 + 1210 * MIN)
    data_store.write_parquet(path, [c[keep] for c in cols])
    assert data_store.missing_spans(path, T0, T0 + N * MIN, MIN) == [
        (T0, T0 + 1000 * MIN), (T0 + 1200 * MIN, T0 + 1210 * MIN), (T0 + 1500 * MIN, T0 + N * MIN)
    ]  # fmt: skip
    before = server.request_counts["GET /api/v3/klines"]
    got = await data.download(client, "binance", ["BTCUSDT"], "1m", T0, T0 + N * MIN, tmp_path)
    assert got == {"BTCUSDT": N - 490}  # everything it did not have, nothing twice
    assert server.request_counts["GET /api/v3/klines"] - before == 1 + 1 + 1  # 1000, 10, 845
    report = check_file(path)
    assert report.ok, report.as_dict()
    assert report.rows == N


def test_merge_keeps_one_row_per_time_the_newest_winning(tmp_path: Path) -> None:
    path = tmp_path / "X_1m.parquet"
    ts = np.array([T0 + i * MIN for i in (0, 1, 2)], dtype=np.int64)
    ones = np.ones(3)
    data_store.merge(path, [ts, ones, ones * 2, ones / 2, ones, ones])
    later = np.array([T0 + 2 * MIN, T0 + 3 * MIN, T0 + 1 * MIN], dtype=np.int64)
    data_store.merge(path, [later, ones * 5, ones * 6, ones * 4, ones * 5, ones])
    got = read_candles(path, "X")
    assert got.open_time_ms.tolist() == [T0 + i * MIN for i in range(4)]
    assert got.close.tolist() == [1.0, 5.0, 5.0, 5.0]


def test_check_reports_gaps_duplicates_order_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    rows = [(T0 + i * MIN, 1, 2, 0.5, 1.5, 3) for i in range(10)]
    rows[5] = (T0 + 7 * MIN, 1, 2, 0.5, 1.5, 3)  # 5 and 6 missing, 7 twice
    rows.append((T0 + 2 * MIN, 1, 2, 0.5, 1.5, 3))  # backwards
    rows.append((T0 + 20 * MIN, 1, 0.9, 0.5, 1.5, 3))  # high below close
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(",".join(map(str, r)) + "\n" for r in rows)
    )
    r = check_file(path)
    assert not r.ok
    assert r.duplicates == 2  # the second 7, and the 2 again at the end
    assert r.backwards == 1  # 6 after 7
    assert r.bad_ohlc == 1
    assert r.gaps == [(T0 + 4 * MIN, 1), (T0 + 9 * MIN, 10)]  # 5 and 10..19 missing
    # the same rows as Parquet (as written by hand: the writer itself sorts and dedups)
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = list(zip(*rows, strict=True))
    pq.write_table(
        pa.table(
            {"timestamp": pa.array(cols[0], pa.int64()),
             **{n: pa.array(c, pa.float64()) for n, c in zip(
                 ["open", "high", "low", "close", "volume"], cols[1:], strict=True)}}
        ),
        tmp_path / "x.parquet",
    )  # fmt: skip
    rp = check_file(tmp_path / "x.parquet")
    assert (rp.duplicates, rp.backwards, rp.bad_ohlc, rp.gaps) == (2, 1, 1, r.gaps)
    assert [f["path"] for f in list_files(tmp_path)] == [
        str(tmp_path / "x.csv"), str(tmp_path / "x.parquet")
    ]  # fmt: skip


def test_import_binance_zip_in_microseconds_and_freqtrade_json(tmp_path: Path) -> None:
    archive = tmp_path / "BTCUSDT-1m-2025-01.zip"
    lines = [f"{(T0 + i * MIN) * 1000},10,11,9,10.5,2,{(T0 + (i + 1) * MIN) * 1000 - 1},0,0,0,0,0"
             for i in range(5)]  # fmt: skip
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("BTCUSDT-1m-2025-01.csv", "\n".join(lines) + "\n")
    assert data.import_file(archive, "btcusdt", "1m", tmp_path, "binance-archive") == 5
    out = data.file_for(tmp_path, "binance-archive", "BTCUSDT", "1m")
    assert out.suffix == ".parquet"
    assert read_candles(out, "BTCUSDT").open_time_ms[0] == T0
    ft = tmp_path / "ETH_USDT-5m.json"
    ft.write_text(json.dumps([[T0 + i * 300_000, 1, 2, 0.5, 1.5, 7] for i in range(4)]))
    assert data.import_file(ft, "ETHUSDT", "5m", tmp_path, "freqtrade") == 4
    assert check_file(data.file_for(tmp_path, "freqtrade", "ETHUSDT", "5m")).ok


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["data", "download", "--venue", "binance", "--symbols", "BTCUSDT", "--from", "2024-13-01"],
         "--from: '2024-13-01' is not YYYY-MM-DD"),
        (["data", "download", "--venue", "binance", "--symbols", "BTCUSDT", "--from",
          "2024-02-01", "--to", "2024-01-01"], "--to must be after --from"),
        (["data", "check", "no-such-file.csv"], "no-such-file.csv: no such file"),
        (["data", "download", "--venue", "binance", "--symbols", "BTCUSDT", "--from",
          "2024-01-01", "--kinds", "funding"], "--kinds: funding needs a futures venue"),
        (["data", "download", "--venue", "binance-futures", "--symbols", "BTCUSDT", "--from",
          "2024-01-01", "--kinds", "candles,index"], "--kinds: 'candles,index': choose from"),
        (["data", "download", "--venue", "binance-futures", "--symbols", "BTCUSDT", "--from",
          "2024-01-01", "--interval", "7m"], "--interval"),
    ],
)  # fmt: skip
def test_cli_bad_input_is_one_line_and_exit_2(argv: list[str], needle: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--env-file", "/dev/null", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_check_and_list_know_a_funding_file(tmp_path: Path) -> None:
    funding = tmp_path / "binance-futures" / "funding" / "BTCUSDT.csv"
    funding.parent.mkdir(parents=True)
    funding.write_text("timestamp,funding_rate\n0,0.0001\n28800000,-0.0002\n")
    report = check_file(funding)
    assert report.ok
    assert (report.rows, report.first_ms, report.last_ms) == (2, 0, 28_800_000)
    funding.write_text("timestamp,funding_rate\n0,0.0001\n0,0.0001\nx,y\n")
    report = check_file(funding)
    assert (report.duplicates, report.unreadable, report.ok) == (1, 1, False)
    assert [f["kind"] for f in list_files(tmp_path)] == ["funding"]


SHIPPED = ROOT / "data" / "backtest" / "binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"
WINDOW = ["--from", "2021-01-01", "--to", "2021-01-21"]


def _main(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--env-file", "/dev/null", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_backtest_and_optimize_read_parquet_as_they_read_the_csv(tmp_path: Path) -> None:
    """The shipped CSV.GZ imported to Parquet backtests to the very same result."""
    assert data.import_file(SHIPPED, "BTCUSDT", "5m", tmp_path, "shipped") > 60_000
    parquet = data.file_for(tmp_path, "shipped", "BTCUSDT", "5m")
    assert (
        read_candles(parquet, "BTCUSDT").close.tolist()
        == read_candles(SHIPPED, "BTCUSDT").close.tolist()
    )
    results = []
    for source in (SHIPPED, parquet.parent):  # a file, and a folder picked by --data DIR
        proc = _main(["backtest", "--strategy", "sma_cross", "--param", "fast=10", "--param",
                      "slow=30", "--symbol", "BTCUSDT", "--data", str(source), *WINDOW,
                      "--json"], tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        for timing in ("elapsed_s", "bars_per_s", "data"):  # and the input's name
            summary.pop(timing, None)
        results.append(summary)
    assert results[0]["trades"] > 0
    assert results[0] == results[1]
    proc = _main(["optimize", "--strategy", "sma_cross", "--symbol", "BTCUSDT", "--data",
                  str(parquet), *WINDOW, "--param", "fast=3:20", "--param", "slow=25:80:5",
                  "--trials", "3", "--workers", "1", "--seed", "7", "--no-progress",
                  "--storage", str(tmp_path / "opt.db"), "--report", str(tmp_path / "opt")],
                 tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "opt" / "results.json").read_text())["best_params"]

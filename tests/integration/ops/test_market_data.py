"""Market data tools (issue 14 item 5) against the fake Binance venue on 127.0.0.1.

``data download`` pages through klines with the real Binance client (its limiter and
``Retry-After`` handling on an injected 429), resumes after an interruption (a torn last
row cut off, nothing written twice) and leaves a gap-free file that the backtest loader
reads; ``import`` reads Binance archive ZIPs (µs open times) and freqtrade JSON;
``check`` finds gaps, duplicates, rows out of order and impossible OHLC rows; the CLI
answers bad input with one line and exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kinetic.marketdata.files import read_candles
from kinetic.ops import data
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
    with path.open("a") as fh:  # the process died in the middle of writing a row
        fh.write(f"{T0 + 1500 * MIN},100.0,101")
    server.inject("429", path="/api/v3/klines", times=1, retry_after=7)
    second = await data.download(client, "binance", ["BTCUSDT"], "1m", T0, end, tmp_path)
    assert second == {"BTCUSDT": N - 1500}  # the torn row was cut and written again, once
    assert 7 in clock.sleeps  # the venue's Retry-After was honoured (on the test clock)
    report = data.check_file(path)
    assert report.ok, report.as_dict()
    assert (report.rows, report.first_ms, report.last_ms) == (N, T0, end - MIN)
    candles = read_candles(path, "BTCUSDT")  # what replay/backtest/optimize load
    assert len(candles.open_time_ms) == N
    assert candles.interval_ms == MIN
    assert await data.download(client, "binance", ["BTCUSDT"], "1m", T0, end, tmp_path) == {
        "BTCUSDT": 0
    }


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
    r = data.check_file(path)
    assert not r.ok
    assert r.duplicates == 2  # the second 7, and the 2 again at the end
    assert r.backwards == 1  # 6 after 7
    assert r.bad_ohlc == 1
    assert r.gaps == [(T0 + 4 * MIN, 1), (T0 + 9 * MIN, 10)]  # 5 and 10..19 missing


def test_import_binance_zip_in_microseconds_and_freqtrade_json(tmp_path: Path) -> None:
    archive = tmp_path / "BTCUSDT-1m-2025-01.zip"
    lines = [f"{(T0 + i * MIN) * 1000},10,11,9,10.5,2,{(T0 + (i + 1) * MIN) * 1000 - 1},0,0,0,0,0"
             for i in range(5)]  # fmt: skip
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("BTCUSDT-1m-2025-01.csv", "\n".join(lines) + "\n")
    assert data.import_file(archive, "btcusdt", "1m", tmp_path, "binance-archive") == 5
    out = data.file_for(tmp_path, "binance-archive", "BTCUSDT", "1m")
    assert read_candles(out, "BTCUSDT").open_time_ms[0] == T0
    ft = tmp_path / "ETH_USDT-5m.json"
    ft.write_text(json.dumps([[T0 + i * 300_000, 1, 2, 0.5, 1.5, 7] for i in range(4)]))
    assert data.import_file(ft, "ETHUSDT", "5m", tmp_path, "freqtrade") == 4
    assert data.check_file(data.file_for(tmp_path, "freqtrade", "ETHUSDT", "5m")).ok


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["data", "download", "--venue", "binance", "--symbols", "BTCUSDT", "--from", "2024-13-01"],
         "--from: '2024-13-01' is not YYYY-MM-DD"),
        (["data", "download", "--venue", "binance", "--symbols", "BTCUSDT", "--from",
          "2024-02-01", "--to", "2024-01-01"], "--to must be after --from"),
        (["data", "check", "no-such-file.csv"], "no-such-file.csv: no such file"),
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

"""``data download --kinds mark,funding`` against the fake futures venues on 127.0.0.1.

Binance USD-M: ``/fapi/v1/fundingRate`` paged 1000 rows at a time by ``startTime`` and
``/fapi/v1/markPriceKlines`` paged like klines, each through a 429 with Retry-After
mid-way; the funding file is what ``backtest --funding`` reads. Kraken Futures: the
charts API's ``mark`` candles (at most 2000 per answer) and ``historical-funding-rates``
(the whole history in one answer, ``relativeFundingRate`` as the rate). A download
SIGKILLed in the middle resumes after what it had staged, and the backtest runs on
the result.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kinetic.backtest.data import load_funding
from kinetic.marketdata.files import read_candles
from kinetic.ops import data, data_store
from kinetic.ops.data_check import check_file
from kinetic.venues.binance import BinanceFuturesClient
from kinetic.venues.fakes.binance_server import FakeBinance
from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
from kinetic.venues.kraken.futures import KrakenFuturesClient
from tests.fake_venues.fast_clock import FastClock

MIN = 60_000
H8 = 8 * 3_600_000
T0 = 1_700_000_000_000 // H8 * H8
ROOT = Path(__file__).resolve().parents[3]
FUNDING = "/fapi/v1/fundingRate"
MARK = "/fapi/v1/markPriceKlines"


def _rate(i: int) -> str:
    return f"{(i % 7 - 3) * 0.00005:.8f}"


@pytest.fixture
async def binance() -> AsyncIterator[tuple[FakeBinance, BinanceFuturesClient, FastClock]]:
    clock = FastClock(T0 / 1000 + 30 * 86_400)
    server = FakeBinance(futures=True, clock=clock)
    await server.start()
    client = BinanceFuturesClient(clock, base_url=server.url)
    try:
        yield server, client, clock
    finally:
        await client.close()
        await server.stop()


async def test_binance_funding_pages_through_a_429_and_feeds_backtest_funding(
    binance: tuple[FakeBinance, BinanceFuturesClient, FastClock], tmp_path: Path
) -> None:
    server, client, clock = binance
    start = T0 - 2500 * H8
    for i in range(2500):  # 2500 settlements: three pages of at most 1000
        server.add_funding_rate("BTCUSDT", start + i * H8, _rate(i), "30000.1")
    server.inject("429", path=FUNDING, times=1, retry_after=11, after=1)  # the second page
    got = await data.download(client, "binance-futures", ["BTCUSDT"], "1m", start, T0, tmp_path,
                              kind="funding")  # fmt: skip
    assert got == {"BTCUSDT": 2500}
    assert 11 in clock.sleeps
    # 3 pages, the refused one, and the empty answer after the last row
    assert server.request_counts[f"GET {FUNDING}"] == 5
    path = data.file_for(tmp_path, "binance-futures", "BTCUSDT", "1m", "funding")
    assert path == tmp_path / "binance-futures" / "funding" / "BTCUSDT.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,funding_rate"
    assert lines[1] == f"{start},{float(_rate(0))!r}"
    rates = load_funding(path)  # what backtest/optimize --funding read
    assert rates.ts_ms.tolist() == [start + i * H8 for i in range(2500)]
    assert rates.rate.tolist() == [float(_rate(i)) for i in range(2500)]
    # a rerun (a torn row first) fetches from the last complete row on, writes it once
    with path.open("a") as fh:
        fh.write(f"{T0},0.00")
    for i in range(2500, 2510):
        server.add_funding_rate("BTCUSDT", start + i * H8, _rate(i), "30000.1")
    more = await data.download(client, "binance-futures", ["BTCUSDT"], "1m", start,
                               start + 2510 * H8, tmp_path, kind="funding")  # fmt: skip
    assert more == {"BTCUSDT": 10}
    assert load_funding(path).ts_ms.tolist() == [start + i * H8 for i in range(2510)]


async def test_binance_mark_klines_page_through_a_429_into_parquet(
    binance: tuple[FakeBinance, BinanceFuturesClient, FastClock], tmp_path: Path
) -> None:
    server, client, clock = binance
    n = 2345
    for i in range(n):
        server.add_mark_candle("BTCUSDT", T0 + i * MIN, 200.0 + i % 11)
    server.inject("429", path=MARK, times=1, retry_after=5, after=2)
    got = await data.download(client, "binance-futures", ["BTCUSDT"], "1m", T0, T0 + n * MIN,
                              tmp_path, kind="mark")  # fmt: skip
    assert got == {"BTCUSDT": n}
    assert 5 in clock.sleeps
    path = tmp_path / "binance-futures" / "mark" / "BTCUSDT_1m.parquet"
    report = check_file(path)
    assert report.ok
    assert report.rows == n
    mark = read_candles(path, "BTCUSDT")
    assert mark.close.tolist() == [200.0 + i % 11 for i in range(n)]
    assert not mark.volume.any()  # the venue sends no volume for the mark price
    assert server.request_counts["GET /fapi/v1/klines"] == 0  # mark, not trade candles


async def test_kraken_futures_mark_candles_and_funding_rates(tmp_path: Path) -> None:
    clock = FastClock(T0 / 1000 + 30 * 86_400)
    server = FakeKrakenFutures("key", "c2VjcmV0", clock)
    n = 4500  # more than the 2000 candles one charts answer holds
    server.mark_candles["PF_XBTUSD"] = [
        {"time": T0 + i * MIN, "open": "1", "high": "5", "low": "0.5", "close": str(2 + i % 3),
         "volume": 0}
        for i in range(n)
    ]  # fmt: skip
    hour = 3_600_000
    for i in range(300):
        server.add_funding_rate("PF_XBTUSD", T0 - 200 * hour + i * hour, 1e-5 * (i % 4), 30000)
    await server.start()
    client = KrakenFuturesClient(clock, base_url=server.base_url)
    try:
        mark = await data.download(client, "kraken-futures", ["BTCUSD"], "1m", T0,
                                   T0 + n * MIN, tmp_path, kind="mark")  # fmt: skip
        funding = await data.download(client, "kraken-futures", ["BTCUSD"], "1m",
                                      T0 - 100 * hour, T0, tmp_path, kind="funding")  # fmt: skip
    finally:
        await client.close()
        await server.stop()
    assert mark == {"BTCUSD": n}
    assert server.calls["charts"] >= 3  # paged: 2000 a time
    candles = read_candles(tmp_path / "kraken-futures" / "mark" / "BTCUSD_1m.parquet", "BTCUSD")
    assert candles.close.tolist() == [2.0 + i % 3 for i in range(n)]
    assert funding == {"BTCUSD": 100}  # [from, to): the history's other 200 rows left out
    rates = load_funding(tmp_path / "kraken-futures" / "funding" / "BTCUSD.csv")
    assert rates.ts_ms.tolist() == [T0 - 100 * hour + i * hour for i in range(100)]
    assert rates.rate.tolist() == [1e-5 * ((i + 100) % 4) for i in range(100)]  # relative


async def _cli(*argv: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "--env-file", "/dev/null", *argv,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
async def test_download_killed_mid_way_resumes_and_the_backtest_reads_it(tmp_path: Path) -> None:
    """SIGKILL while a page hangs; the rerun fetches only the rest; backtest runs on it."""
    now_s = (T0 + 9000 * 5 * MIN) / 1000  # the fake's clock: every candle below is closed
    server = FakeBinance(futures=True, clock=FastClock(now_s))
    n, step = 6500, 5 * MIN
    price = 30_000.0
    for i in range(n):
        price *= 1 + 0.004 * ((i * 7919) % 13 - 6) / 6  # a deterministic zig-zag walk
        server.add_candle("BTCUSDT", T0 + i * step, round(price, 2), step)
    for i in range(n * step // H8 + 1):
        server.add_funding_rate("BTCUSDT", T0 + i * H8, "0.00010000", "30000")
    server.inject("hang_after_accept", path="/fapi/v1/klines", after=3)  # the 4th page hangs
    await server.start()
    env = {**os.environ, "KINETIC_VENUE_URLS": json.dumps({"binance_futures_rest": server.url})}
    args = ["data", "download", "--venue", "binance-futures", "--symbols", "BTCUSDT",
            "--interval", "5m", "--from", str(T0), "--to", str(T0 + n * step), "--dir", "dl",
            "--kinds", "candles,funding"]  # fmt: skip
    try:
        proc = await _cli(*args, env=env, cwd=tmp_path)
        while server.request_counts["GET /fapi/v1/klines"] < 4:  # three pages staged
            assert proc.returncode is None
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        path = tmp_path / "dl" / "binance-futures" / "BTCUSDT_5m.parquet"
        assert not path.exists()  # nothing merged: the staging file holds the three pages
        assert len(data_store.staging_path(path).read_text().splitlines()) == 1 + 3000
        proc = await _cli(*args, env=env, cwd=tmp_path)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
    finally:
        await server.stop()
    assert server.request_counts["GET /fapi/v1/klines"] == 4 + 4  # 3000..6499: 4 pages
    assert "BTCUSDT: 3500 candles written" in out.decode()
    report = check_file(path)
    assert report.ok, report.as_dict()
    assert report.rows == n
    funding = tmp_path / "dl" / "binance-futures" / "funding" / "BTCUSDT.csv"
    bt = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "backtest", "--engine", "futures",
        "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30", "--raw",
        "--symbol", "BTCUSDT", "--data", str(path.parent), "--funding", str(funding),
        "--json", cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await bt.communicate()
    assert bt.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["bars"] == n
    assert summary["trades"] > 0
    assert summary["funding"] != 0  # the downloaded rates were charged


async def test_sandbox_venues_serve_funding_and_mark_from_their_tape(tmp_path: Path) -> None:
    """The sandbox's fakes (no rows added) answer both kinds from the candle tape."""
    from decimal import Decimal

    from kinetic.clock import RealClock
    from kinetic.venues.fakes.serve import Options, build_server, default_candle_files

    files = default_candle_files("binance_usdm")
    clock = RealClock()
    for venue, symbol, every_ms in (("binance_usdm", "BTCUSDT", H8),
                                    ("kraken_futures", "BTCUSD", 3_600_000)):  # fmt: skip
        server, _key, _secret = build_server(
            Options(venue, "127.0.0.1", 0, files, 1.0, Decimal(1000), None)
        )
        await server.start()
        url = getattr(server, "base_url", None) or server.url
        client = (BinanceFuturesClient(clock, base_url=url) if venue == "binance_usdm"
                  else KrakenFuturesClient(clock, base_url=url))  # fmt: skip
        now = clock.time_ms()
        try:
            rates = await client.get_funding_rates(symbol, now - 3 * 86_400_000, now, 1000)
            mark = await client.get_mark_klines(symbol, "5m", 50)
        finally:
            await client.close()
            await server.stop()
        assert len(rates) >= 3 * 86_400_000 // every_ms - 1, venue
        assert {r.ts_ms % every_ms for r in rates} == {0}, venue
        assert {r.rate for r in rates} == {0.0001 if venue == "binance_usdm" else 0.00001}
        assert len(mark) >= 40, venue
        assert {c.volume for c in mark} == {0.0}, venue

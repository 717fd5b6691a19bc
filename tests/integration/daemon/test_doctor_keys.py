"""``doctor`` in live mode: without API keys the private checks are skipped, and said so.

Against the local fake Binance servers (spot and USD-M): the public checks run; no
request reaches an endpoint that needs a key. With the keys the same checks do run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from config import EnvConfig, UnifiedConfig
from kinetic.doctor import run_doctor
from kinetic.storage.db import resolve_database_url
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from tests.fake_venues.urls import binance_urls

MINUTE_MS = 60_000
# the endpoints the live checks call with a key (balances, position mode)
PRIVATE_PATHS = {"/api/v3/account", "/fapi/v3/balance", "/fapi/v1/positionSide/dual"}


@pytest.fixture
async def venues() -> AsyncIterator[tuple[FakeBinance, FakeBinance]]:
    spot, futures = FakeBinance(futures=False), FakeBinance(futures=True)
    await spot.start()
    await futures.start()
    last_open = (int(time.time() * 1000) // MINUTE_MS - 1) * MINUTE_MS
    for server in (spot, futures):
        for symbol, base in (("BTCUSDT", 100.0), ("ETHUSDT", 50.0)):
            for i in range(240):
                server.add_candle(symbol, last_open - (239 - i) * MINUTE_MS, base + i * 0.1)
    yield spot, futures
    await spot.stop()
    await futures.stop()


def _config(tmp_path: Path, spot: FakeBinance, futures: FakeBinance) -> UnifiedConfig:
    return UnifiedConfig.model_validate(
        {
            "spot_enabled": True,  # both engines (spot is off by default since issue 15)
            "spot_watchlist": ["BTCUSDT", "ETHUSDT"],
            "futures_watchlist": ["BTCUSDT", "ETHUSDT"],
            "timeframe": "1m",
            "sqlite_path": str(tmp_path / "doctor.db"),
            "venue_state_dir": str(tmp_path / "state"),
            "venue_urls": binance_urls(spot=spot, futures=futures),
        }
    )


def _paths(*servers: FakeBinance) -> set[str]:
    return {path for server in servers for _, path, _ in server.requests}


async def test_doctor_live_without_keys_skips_private_checks_and_calls_no_private_endpoint(
    tmp_path: Path, venues: tuple[FakeBinance, FakeBinance], capsys: pytest.CaptureFixture[str]
) -> None:
    spot, futures = venues
    url = resolve_database_url(None, str(tmp_path / "doctor.db"))
    code = await run_doctor(_config(tmp_path, spot, futures), EnvConfig(mode="live"), url)
    out = capsys.readouterr().out
    assert "[skip] spot: balances and account checks: no API keys" in out
    assert "[skip] futures: balances and account checks: no API keys" in out
    assert "[ok] spot: clock offset" in out  # the public checks still run
    assert "[FAIL] live keys present" in out  # live trading would be refused: exit 1
    assert code == 1
    assert not _paths(spot, futures) & PRIVATE_PATHS


async def test_doctor_live_with_keys_runs_the_private_checks(
    tmp_path: Path, venues: tuple[FakeBinance, FakeBinance], capsys: pytest.CaptureFixture[str]
) -> None:
    spot, futures = venues
    env = EnvConfig(
        mode="live", binance_api_key=SecretStr(API_KEY), binance_api_secret=SecretStr(API_SECRET)
    )
    url = resolve_database_url(None, str(tmp_path / "doctor.db"))
    code = await run_doctor(_config(tmp_path, spot, futures), env, url)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[skip]" not in out
    assert "[ok] spot: balances readable (key valid)" in out
    assert _paths(spot, futures) & PRIVATE_PATHS

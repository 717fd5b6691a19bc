"""``dry_run`` and ``validate_only`` against local fake Binance servers (spot and USD-M).

Both run on live (fake) venue data and neither can place an order: the fakes keep every
order they accept in ``book.orders`` and count ``order/test`` calls, so "nothing was
placed" is read off the venue, not the daemon. ``dry_run`` makes no private (signed) call
at all; ``validate_only`` proves the keys (balances) and has every order checked by the
venue's test endpoint. The journal says what each order was (NOT_SENT / VALIDATED, with
its reason) and ``status`` names the mode.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from config import EnvConfig
from kinetic.app import Daemon, StartupError
from kinetic.cli_status import render_status
from kinetic.storage.db import Database, resolve_database_url
from kinetic.storage.status import read_status
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from tests.integration.daemon.support import query, wait_until
from tests.integration.daemon.test_paper_mode import (  # noqa: F401 - the fixture
    Market,
    _config,
    _last_history_open,
    venues,
)

# the venue's public endpoints; every other request a daemon makes is a private one
PUBLIC = ("/time", "/exchangeInfo", "/klines", "/ticker/price", "/ticker/24hr", "/premiumIndex")


async def _journal(db: Database) -> dict[tuple[str, str], int]:
    if not os.path.exists(db.url.split(":///", 1)[1]):  # noqa: ASYNC240 - a stat on tmpfs
        return {}
    try:
        rows = await query(db, "SELECT engine, status, COUNT(*) FROM orders GROUP BY 1, 2")
    except Exception:  # not migrated yet
        return {}
    return {(str(e), str(s)): int(n) for e, s, n in rows}


async def _run(
    tmp_path: Path, spot: FakeBinance, futures: FakeBinance, mode: str, env: EnvConfig
) -> tuple[dict[tuple[str, str], int], dict[str, object], list[tuple[object, ...]]]:
    """Run the daemon until both engines journaled an order of the mode's status."""
    status = "NOT_SENT" if mode == "dry_run" else "VALIDATED"
    url = resolve_database_url(None, str(tmp_path / f"{mode}.db"))
    daemon = Daemon(_config(tmp_path, spot, futures), env, mode=mode, database_url=url)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name=f"test:{mode}-daemon")
    db = Database(url)
    market = Market((spot, futures), _last_history_open())

    async def journal() -> dict[tuple[str, str], int]:
        await market.tick()
        return await _journal(db)

    try:
        await db.connect()
        await wait_until(
            journal,
            lambda c: c.get(("spot", status), 0) > 0 and c.get(("futures", status), 0) > 0,
            f"{status} orders from both engines",
            limit_s=60,
            task=task,
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    try:  # read once the daemon stopped: no order is half-way (journaled, not answered)
        counts = await _journal(db)
        reasons = await query(db, "SELECT status, reason FROM orders")
        report = await read_status(db)
    finally:
        await db.close()
    return counts, report, reasons


async def test_dry_run_journals_orders_and_sends_no_private_call(
    tmp_path: Path,
    venues: tuple[FakeBinance, FakeBinance],  # noqa: F811
) -> None:
    spot, futures = venues
    counts, report, reasons = await _run(tmp_path, spot, futures, "dry_run", EnvConfig())
    assert {s for (_, s) in counts} == {"NOT_SENT"}
    assert all(reason for _, reason in reasons)  # each says why it would have gone
    assert not spot.book.orders  # nothing reached either venue
    assert not futures.book.orders
    for server in (spot, futures):
        private = [k for k in server.request_counts if not k.endswith(PUBLIC)]
        assert private == [], private
    assert report["mode"] == "dry_run"
    assert "mode: DRY_RUN - orders are journaled, never sent" in render_status(report)


async def test_validate_only_has_the_venue_check_orders_and_places_none(
    tmp_path: Path,
    venues: tuple[FakeBinance, FakeBinance],  # noqa: F811
) -> None:
    spot, futures = venues
    for server in (spot, futures):  # market orders are checked at the last price
        server.set_price("BTCUSDT", Decimal(str(round(100 * (1 + 0.002 * 239), 2))))
        server.set_price("ETHUSDT", Decimal(str(round(50 * (1 + 0.002 * 239), 2))))
    env = EnvConfig(binance_api_key=SecretStr(API_KEY), binance_api_secret=SecretStr(API_SECRET))
    counts, report, _ = await _run(tmp_path, spot, futures, "validate_only", env)
    assert set(counts) <= {("spot", "VALIDATED"), ("futures", "VALIDATED")}
    assert not spot.book.orders
    assert not futures.book.orders
    validated = counts[("spot", "VALIDATED")] + counts[("futures", "VALIDATED")]
    assert spot.book.test_orders + futures.book.test_orders == validated
    assert spot.request_counts["POST /api/v3/order/test"] >= counts[("spot", "VALIDATED")]
    assert futures.request_counts["POST /fapi/v1/order/test"] >= 1
    assert report["unsent_orders"] == {"VALIDATED": validated}
    assert "VALIDATED" in render_status(report)


async def test_validate_only_refuses_kraken_futures_at_start(
    tmp_path: Path,
    venues: tuple[FakeBinance, FakeBinance],  # noqa: F811
) -> None:
    spot, futures = venues
    config = _config(tmp_path, spot, futures, futures_venue="kraken", spot_enabled=False)
    env = EnvConfig(
        kraken_futures_api_key=SecretStr("k"), kraken_futures_api_secret=SecretStr("cw==")
    )
    url = resolve_database_url(None, str(tmp_path / "refused.db"))
    daemon = Daemon(config, env, mode="validate_only", database_url=url)
    with pytest.raises(StartupError, match="Kraken Futures has no validate/test order flag"):
        await daemon.run(asyncio.Event())

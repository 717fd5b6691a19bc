"""The whole daemon, in-process, on SQLite and on PostgreSQL.

One replay run per backend (module-scoped, on a private event loop): start the
daemon, wait until both engines have fills and heartbeats in the database, stop it,
then check what it left behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config import EnvConfig
from kinetic.app import Daemon
from kinetic.storage import Database, Repositories, resolve_database_url
from kinetic.storage.status import read_status
from tests.integration.daemon.conftest import run_isolated, temp_pg_database
from tests.integration.daemon.support import (
    BAD_STATES,
    ENGINES,
    TERMINAL,
    both_filled,
    fast_config,
    fill_counts,
    heartbeats,
    wait_until,
)

SHUTDOWN_BOUND_S = 10.0


@dataclass
class ReplayRun:
    url: str
    daemon: Daemon
    counts_before_stop: dict[str, int]
    held: dict[str, dict[str, tuple[str, Decimal]]]
    shutdown_s: float


async def _run_daemon(url: str, sqlite_path: Path) -> ReplayRun:
    daemon = Daemon(fast_config(sqlite_path), EnvConfig(), mode="replay", database_url=url)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="test:daemon")
    try:
        counts = await wait_until(
            lambda: fill_counts(daemon.db), both_filled, "fills from both engines", task=task
        )
        await wait_until(
            lambda: heartbeats(daemon.db),
            lambda hb: all(hb.get(e) is not None for e in ENGINES),
            "heartbeats of both engines in engine_state",
            task=task,
        )
    finally:
        stop.set()
        started = time.monotonic()
        await task
        shutdown_s = time.monotonic() - started
    assert daemon.orchestrator is not None
    held = {
        name: {s: (str(p.side), p.quantity) for s, p in eng.d.positions.positions.items()}
        for name, eng in daemon.orchestrator.engines.items()
    }
    return ReplayRun(url, daemon, counts, held, shutdown_s)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def replay_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplayRun]:
    tmp = tmp_path_factory.mktemp(f"replay-{request.param}")
    if request.param == "sqlite":
        url = resolve_database_url(None, str(tmp / "kinetic.db"))
        yield run_isolated(_run_daemon(url, tmp / "unused.db"))
        return
    for pg in temp_pg_database():
        yield run_isolated(_run_daemon(pg, tmp / "unused.db"))


@pytest.fixture
async def db(replay_run: ReplayRun) -> AsyncIterator[Database]:
    """A fresh connection to the database the daemon used (the daemon closed its own)."""
    database = Database(replay_run.url)
    await database.connect()
    yield database
    await database.close()


async def _rows(db: Database, sql: str) -> list[Any]:
    from tests.integration.daemon.support import query

    return await query(db, sql)


def test_both_engines_traded_and_shutdown_was_prompt(replay_run: ReplayRun) -> None:
    assert both_filled(replay_run.counts_before_stop)
    assert replay_run.shutdown_s <= SHUTDOWN_BOUND_S
    assert replay_run.daemon.orchestrator is not None
    assert replay_run.daemon.orchestrator.running_engines == []


async def test_no_order_left_pending_or_unknown(db: Database) -> None:
    orders = await _rows(db, "SELECT client_order_id, engine, order_type, status FROM orders")
    assert orders, "the daemon journaled no order"
    bad = [o for o in orders if o[3] in BAD_STATES]
    assert not bad, f"orders left in flight: {bad}"
    # the only non-terminal orders allowed are resting protective stops
    resting = [o for o in orders if o[3] not in TERMINAL]
    # (futures STOP_MARKET, spot STOP_LIMIT: the replay models Binance spot)
    assert all(o[3] == "NEW" and o[2] in ("STOP_MARKET", "STOP_LIMIT") for o in resting), resting


async def test_lifecycle_events_persisted(db: Database) -> None:
    kinds = {k for (k,) in await _rows(db, "SELECT kind FROM events")}
    assert {"config_loaded", "started", "shutdown"} <= kinds
    crashes = await _rows(db, "SELECT message FROM events WHERE kind = 'engine_crash'")
    assert not crashes, crashes
    (last,) = await _rows(db, "SELECT kind FROM events ORDER BY id DESC LIMIT 1")
    assert last[0] == "shutdown"


async def test_equity_snapshots_for_both_engines(db: Database) -> None:
    rows = await _rows(db, "SELECT engine, COUNT(*) FROM equity_snapshots GROUP BY engine")
    counts = dict(rows)
    assert all(counts.get(e, 0) > 0 for e in ENGINES), counts


async def test_read_status_shows_both_engines(db: Database, replay_run: ReplayRun) -> None:
    status = await read_status(db)
    fills = await fill_counts(db)
    for name in ENGINES:
        entry = status["engines"][name]
        assert entry["fills"] > 0
        assert entry["fills"] == fills[name]
        assert entry["status"] == "stopped"
        assert entry["last_heartbeat"] is not None
        assert entry["open_positions"] == len(replay_run.held[name])
    assert status["total_value_usd"] > 0
    assert status["circuit_breaker_active"] is False


async def test_positions_table_matches_engines(db: Database, replay_run: ReplayRun) -> None:
    stored = await Repositories.create(db).positions.list_all()
    as_stored = {
        name: {p.symbol: (str(p.side), p.quantity) for p in stored.get(name, [])}
        for name in ENGINES
    }
    assert as_stored == replay_run.held


async def test_resting_stops_protect_open_positions(db: Database, replay_run: ReplayRun) -> None:
    """A NEW stop must guard a position still held, and must not have been filled."""
    resting = await _rows(
        db, "SELECT client_order_id, engine, symbol FROM orders WHERE status = 'NEW'"
    )
    filled = {cid for (cid,) in await _rows(db, "SELECT client_order_id FROM fills")}
    for cid, engine, symbol in resting:
        assert cid not in filled, f"{cid} has a fill but the journal still says NEW"
        assert symbol in replay_run.held[engine], f"{cid} rests on {symbol}, which is flat"

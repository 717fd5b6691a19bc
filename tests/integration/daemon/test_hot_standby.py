"""Hot standby (issue 14 item 6): one trading daemon per PostgreSQL database.

The leader lease is a PostgreSQL session advisory lock on a connection of its own
(``kinetic.ops.lease``). Against a throwaway database on the local server: a second
lease cannot be taken while the first is held; a holder whose session the server ends
(``pg_terminate_backend``: what happens when its machine or network dies) sees the loss
on its next check and the other takes the lock. Two replay daemons on one database: the
standby builds nothing until the leader stops, then trades; a leader whose lease is cut
goes REDUCE_ONLY for this process only (never persisted, so the daemon that takes over
does not inherit it), stops and reports it (``run_daemon`` exits 1). The same with two
daemon processes, fake venues and SIGKILL is ``scripts/failover.py`` (its short run is
the last test here).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from config import EnvConfig
from kinetic.app import Daemon, StartupError
from kinetic.domain import TradingState
from kinetic.ops.lease import LeaderLease, LeaseWatch, lease_dsn
from tests.integration.daemon.support import fast_config, wait_until
from tests.pg import _admin_connection

ROOT = Path(__file__).resolve().parents[3]


async def _no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


async def _cut(lease: LeaderLease) -> None:
    """End the lease's session from the server side, as a dead peer's would end."""
    pid = lease.server_pid
    assert pid is not None
    admin = await _admin_connection()
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_one_holder_at_a_time_and_a_cut_session_frees_the_lock(pg_url: str) -> None:
    first, second = LeaderLease(lease_dsn(pg_url)), LeaderLease(lease_dsn(pg_url))
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.holds()
        await _cut(first)
        assert not await first.holds()
        assert await second.try_acquire()
        assert not await first.try_acquire()  # a fresh session of the old leader waits
    finally:
        await first.release()
        await second.release()


async def test_watch_calls_on_lost_once_the_lock_is_gone(pg_url: str) -> None:
    lease = LeaderLease(lease_dsn(pg_url))
    assert await lease.try_acquire()
    lost = asyncio.Event()

    async def on_lost() -> None:
        lost.set()

    watch = LeaseWatch(lease, 0.1, _no_wait, on_lost)
    watch.start()
    try:
        for _ in range(20):  # the watch checks, finds the lock held, checks again
            await asyncio.sleep(0)
        assert not lost.is_set()
        await _cut(lease)
        await asyncio.wait_for(lost.wait(), 30)
    finally:
        await watch.stop()
        await lease.release()


async def test_ha_role_on_sqlite_is_refused_at_start(tmp_path: Path) -> None:
    config = fast_config(tmp_path / "k.db", ha_role="standby")
    daemon = Daemon(config, EnvConfig())
    with pytest.raises(StartupError, match="ha_role standby: ha_role needs PostgreSQL"):
        await daemon.run(asyncio.Event())


async def test_standby_waits_then_trades_and_a_cut_leader_fences_itself(
    tmp_path: Path, pg_url: str
) -> None:
    config = fast_config(tmp_path / "unused.db", ha_role="primary", ha_poll_seconds=0.2)
    leader = Daemon(config, EnvConfig(), database_url=pg_url)
    standby = Daemon(
        config.model_copy(update={"ha_role": "standby"}), EnvConfig(), database_url=pg_url
    )
    stop_leader, stop_standby = asyncio.Event(), asyncio.Event()
    leading = asyncio.create_task(leader.run(stop_leader), name="test:leader")
    await wait_until(lambda: _built(leader), bool, "leader running", limit_s=60, task=leading)
    waiting = asyncio.create_task(standby.run(stop_standby), name="test:standby")
    try:
        await wait_until(
            lambda: _standing_by(standby), bool, "standby waiting", limit_s=30, task=waiting
        )
        assert standby.orchestrator is None  # nothing built while standing by
        stop_leader.set()  # a clean stop hands the lease over at once
        await asyncio.wait_for(leading, 60)
        await wait_until(lambda: _built(standby), bool, "standby trading", 60, task=waiting)
        assert standby.states is not None
        await _cut(standby.lease)  # type: ignore[arg-type]
        await asyncio.wait_for(waiting, 60)  # the watch stopped it
    finally:
        stop_leader.set()
        stop_standby.set()
        await asyncio.gather(leading, waiting, return_exceptions=True)
    assert standby.lease_lost
    assert standby.states.state("spot") is TradingState.REDUCE_ONLY
    # fenced in this process only: the next leader reads ACTIVE from the database
    conn = await asyncpg.connect(lease_dsn(pg_url))
    try:
        rows = await conn.fetch("SELECT scope, state FROM trading_states")
    finally:
        await conn.close()
    assert all(r["state"] == "ACTIVE" for r in rows), rows


async def _built(daemon: Daemon) -> bool:
    return daemon.orchestrator is not None and bool(daemon.orchestrator.tasks)


async def _standing_by(daemon: Daemon) -> bool:
    return daemon.lease is not None and not daemon.lease.held and daemon.orchestrator is None


@pytest.mark.slow
def test_failover_with_processes_sigkill_and_fake_venues() -> None:
    """``scripts/failover.py``: SIGKILL the leader; the standby leads, nothing duplicated."""
    proc = subprocess.run(
        [sys.executable, "scripts/failover.py", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(proc.stdout)
    assert report["ok"], report
    assert report["problems"] == []
    assert report["rounds"][0]["lease_s"] is not None
    assert report["naked_max_s"] <= 10.0

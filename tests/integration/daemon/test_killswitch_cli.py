"""``python main.py killswitch`` / ``flatten`` against a running daemon, as an operator
uses them: the CLI is a subprocess, the daemon runs in this process on SQLite or
PostgreSQL, and they meet only through the database.

Kill switch on: entries cancelled, the stop rests, HALTED persisted and still HALTED
after a restart; flatten: every position closed, the daemon REDUCE_ONLY; refused (exit 2)
without --confirm and when no daemon runs; `killswitch status` works without a daemon.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config import EnvConfig, UnifiedConfig
from kinetic.app import Daemon
from kinetic.domain import OrderIntent, OrderType, Side, TradingState
from kinetic.storage import resolve_database_url
from tests.integration.daemon.support import (
    MAIN,
    REPO_ROOT,
    cli_env,
    fast_config,
    query,
    wait_until,
)

H, R = TradingState.HALTED, TradingState.REDUCE_ONLY


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield resolve_database_url(None, str(tmp_path / "k.db"))
    else:
        yield str(request.getfixturevalue("pg_url"))


async def cli(*args: str) -> tuple[int, str, str]:
    """Run ``main.py <args>`` as a subprocess without blocking the daemon's event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(MAIN), "--env-file", os.devnull, *args, cwd=REPO_ROOT,
        env=cli_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class Running:
    """A daemon running in a task of this event loop."""

    def __init__(self, config: UnifiedConfig, url: str) -> None:
        self.daemon = Daemon(config, EnvConfig(), mode="replay", database_url=url)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.daemon.run(self.stop), name="test:daemon")
        await wait_until(self._polling, bool, "the command poller", limit_s=60, task=self.task)
        return self

    async def _polling(self) -> bool:
        return self.daemon.poller is not None and self.daemon.poller._next_alive > 0

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)

    def engine(self, name: str) -> Any:
        assert self.daemon.orchestrator is not None
        return self.daemon.orchestrator.engines[name]


async def _futures_position(run: Running) -> bool:
    return bool(run.engine("futures").d.positions.positions)


async def _rest_entry(run: Running) -> str:
    """A resting limit entry far below the market (it never fills in this test)."""
    engine = run.engine("futures")
    symbol = next(iter(engine.d.positions.positions))
    price = engine.price(symbol) / 2
    inst = engine.d.instruments[symbol]
    qty = max(inst.min_qty, Decimal(150) / price).quantize(inst.step_size)
    cid = engine.d.oms.next_client_order_id(symbol)
    intent = OrderIntent("futures", symbol, Side.BUY, OrderType.LIMIT, qty, cid,
                         price.quantize(inst.tick_size))  # fmt: skip
    order = await engine.d.oms.submit(intent)
    assert not order.status.is_terminal, order
    return cid


async def _states(run: Running) -> dict[str, str]:
    rows = await query(run.daemon.db, "SELECT scope, state FROM trading_states")
    return {str(s): str(v) for s, v in rows}


def _config(tmp_path: Path) -> UnifiedConfig:
    # wide stops: a position outlives the few seconds (hours of replay) the CLI takes
    return fast_config(
        tmp_path / "unused.db",
        monitor_interval_seconds=0.1,
        futures_atr_stop_multiplier=20.0,
        futures_trailing_activation_pct=50.0,
    )


async def test_kill_switch_and_flatten_through_the_cli(db_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path)
    async with Running(config, db_url) as run:
        await wait_until(lambda: _futures_position(run), bool, "a futures position", task=run.task)
        entry = await _rest_entry(run)

        code, out, err = await cli("killswitch", "on", "--reason", "ci drill", "--db", db_url)

        assert code == 0, err
        assert "kill switch ON: daemon HALTED" in out
        assert "(spot 0, futures 1)" in out  # only the entry: no stop was touched
        engine = run.engine("futures")
        venue = run.daemon.world.venues["futures"]  # type: ignore[union-attr]
        rows = await query(run.daemon.db, "SELECT status FROM orders WHERE client_order_id = :c",
                           c=entry)  # fmt: skip
        assert rows == [("CANCELED",)]  # the entry was cancelled, and journaled so
        resting = {o.client_order_id: o for o in await venue.get_open_orders()}
        assert entry not in resting
        for symbol, pos in engine.d.positions.positions.items():  # each still has its stop
            stops = [o for o in resting.values() if o.symbol == symbol and o.stop_price]
            assert stops, f"{symbol} position without a resting stop"
            assert sum(o.quantity for o in stops) >= pos.quantity
        assert (await _states(run))["daemon"] == "HALTED"
        assert run.daemon.states is not None
        assert run.daemon.states.state("spot") is H

        code, out, _ = await cli("killswitch", "status", "--db", db_url)
        assert code == 0
        assert "kill switch: ON" in out
        assert "ci drill" in out
        assert "daemon: running" in out

    # the daemon is gone: commands are refused, status still reads the states
    code, _, err = await cli("killswitch", "off", "--db", db_url)
    assert code == 2
    assert "no daemon is running" in err
    code, out, _ = await cli("killswitch", "status", "--db", db_url)
    assert code == 0
    assert "HALTED" in out
    assert "daemon: not running" in out

    async with Running(config, db_url) as run:  # the HALTED state survives the restart
        assert run.daemon.states is not None
        assert run.daemon.states.state("futures") is H
        assert run.daemon.states.own("daemon").cause == "kill switch: ci drill"

        code, _, err = await cli("flatten", "--db", db_url)
        assert code == 2
        assert "--confirm" in err

        code, out, err = await cli("flatten", "--confirm", "--db", db_url)
        assert code == 0, err
        assert "flatten: closed" in out
        for name in ("spot", "futures"):
            assert not run.engine(name).d.positions.positions, name
        assert (await _states(run))["daemon"] == "REDUCE_ONLY"

        code, out, err = await cli("killswitch", "off", "--reason", "drill over", "--db", db_url)
        assert code == 0, err
        assert "back to ACTIVE" in out
        assert run.daemon.states.state("futures") is TradingState.ACTIVE
        kinds = [k for (k,) in await query(run.daemon.db, "SELECT kind FROM events")]
        assert {"kill_switch", "flatten", "trading_state"} <= set(kinds)


async def test_cli_refuses_without_a_daemon_and_without_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    code, _, err = await cli("killswitch", "on", "--db", str(missing))
    assert code == 2
    assert "no database" in err
    assert not missing.exists()

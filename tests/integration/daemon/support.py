"""Shared helpers for the whole-daemon integration tests.

Nothing here sleeps on wall time to wait for something: ``wait_until`` polls a
condition with a deadline and fails with the last observed state.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from config import UnifiedConfig
from kinetic.storage.db import Database, NotConnectedError

REPO_ROOT = Path(__file__).resolve().parents[3]
MAIN = REPO_ROOT / "main.py"
REPLAY_DIR = REPO_ROOT / "data" / "replay"
ENGINES = ("spot", "futures")
TERMINAL = {"FILLED", "CANCELED", "REJECTED", "EXPIRED"}
BAD_STATES = {"PENDING", "UNKNOWN"}
FAST_SPEED = 30_000.0
POLL_S = 0.05
FILL_DEADLINE_S = 90.0

# variables of the developer's shell that would change what the CLI does
_SCRUB_PREFIXES = ("KINETIC_", "BINANCE_", "KRAKEN_", "TELEGRAM_")
_SCRUB_NAMES = {"MODE", "DATABASE_URL", "SPOT_ENABLED", "FUTURES_ENABLED"}


def fast_config(sqlite_path: Path, **overrides: Any) -> UnifiedConfig:
    """A config that replays fast from the repository's recorded candles."""
    values: dict[str, Any] = {
        "replay_data_dir": str(REPLAY_DIR),
        "replay_speed": FAST_SPEED,
        "replay_warmup_candles": 200,
        "sqlite_path": str(sqlite_path),
        "monitor_interval_seconds": 0.1,
        "api_port": 0,  # the REST API on a free port: tests never collide on 8080
        "spot_enabled": True,  # the daemon tests run both engines (spot is off by default)
        **QUICK_TRADING,
    }
    values.update(overrides)
    return UnifiedConfig.model_validate(values)


# The daemon tests wait for both engines to trade within seconds of replay: they run with
# the faster settings they were written for (the defaults before issue 15, which chose
# EMA 100/400, futures confidence 80 and wider stops: those trade far less often).
QUICK_TRADING: dict[str, Any] = {
    "strategy_params": {n: {"fast": 20, "slow": 50} for n in ("spot_trend", "futures_regime")},
    "futures_min_confidence": 50,
    "futures_atr_stop_multiplier": 2.0,
    "futures_trailing_activation_pct": 2.0,
    "futures_trailing_distance_pct": 1.0,
    "spot_stop_loss_pct": 3.0,
    "spot_take_profit_pct": 6.0,
    "spot_position_size_pct": 10.0,
}


async def wait_until(
    probe: Callable[[], Awaitable[Any]],
    ok: Callable[[Any], bool],
    what: str,
    limit_s: float = FILL_DEADLINE_S,
    task: asyncio.Task[Any] | None = None,
) -> Any:
    """Poll ``probe`` until ``ok(value)``; fail after ``limit_s`` s or if ``task`` ends."""
    deadline = time.monotonic() + limit_s
    value: Any = None
    while True:
        value = await probe()
        if ok(value):
            return value
        if task is not None and task.done():
            task.result()  # re-raise the daemon's error, if any
            raise AssertionError(f"daemon ended before {what}; last state: {value!r}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {limit_s:g}s waiting for {what}; last: {value!r}"
            )
        await asyncio.sleep(POLL_S)


async def _ready(db: Database) -> bool:
    """True once the daemon's ``Database`` is connected and migrated."""
    try:
        return await db.schema_version() is not None
    except NotConnectedError:
        return False


async def query(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with db.session() as session:
        result = await session.execute(sa.text(sql), params)
        return [tuple(row) for row in result.all()]


async def fill_counts(db: Database) -> dict[str, int]:
    """Fills per engine; ``{}`` while the daemon has not opened/migrated the database."""
    if not await _ready(db):
        return {}
    rows = await query(db, "SELECT engine, COUNT(*) FROM fills GROUP BY engine")
    return {str(e): int(n) for e, n in rows}


async def heartbeats(db: Database) -> dict[str, float | None]:
    if not await _ready(db):
        return {}
    rows = await query(db, "SELECT engine, last_heartbeat FROM engine_state")
    return {str(e): hb for e, hb in rows}


def both_filled(counts: Mapping[str, int]) -> bool:
    return all(counts.get(e, 0) > 0 for e in ENGINES)


# The engines a daemon runs on the default config (issue 15: only those whose strategy
# passed the out-of-sample validation; today the futures engine)
DEFAULT_ENGINES = tuple(e for e, on in UnifiedConfig().engine_enabled.items() if on)


def default_engines_filled(counts: Mapping[str, int]) -> bool:
    """Every engine the default config runs has fills (a daemon started on defaults)."""
    return all(counts.get(e, 0) > 0 for e in DEFAULT_ENGINES)


async def event_kinds(db: Database) -> list[str]:
    return [str(k) for (k,) in await query(db, "SELECT kind FROM events ORDER BY id")]


async def dump_text(db: Database) -> str:
    """Every table's rows rendered as text (for secret scans)."""
    tables = [
        "orders",
        "fills",
        "positions",
        "trades",
        "equity_snapshots",
        "events",
        "engine_state",
        "portfolio_state",
        "alembic_version",
    ]
    parts: list[str] = []
    for table in tables:
        for row in await query(db, f"SELECT * FROM {table}"):
            parts.append(f"{table}: {row!r}")
    return "\n".join(parts)


# ---------------------------------------------------------------------- subprocess


def cli_env(**extra: str) -> dict[str, str]:
    """The test process environment minus anything that configures Kinetic."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_NAMES
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["KINETIC_API_PORT"] = "0"  # the REST API on a free port: runs never collide on 8080
    env.update(extra)
    return env


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60.0, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run ``python main.py <args>`` to completion from the repository root."""
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        cwd=REPO_ROOT,
        env=dict(env or cli_env()),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sqlite_fill_counts(path: Path) -> dict[str, int]:
    """Fill counts per engine read with the stdlib driver (``{}`` before the schema)."""
    if not path.exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute("SELECT engine, COUNT(*) FROM fills GROUP BY engine").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # not migrated yet, or briefly locked
        return {}
    return {str(e): int(n) for e, n in rows}


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def poll_sync(
    probe: Callable[[], Any],
    ok: Callable[[Any], bool],
    what: str,
    timeout: float,
    proc: subprocess.Popen[Any] | None = None,
    logs: Callable[[], str] = lambda: "",
) -> Any:
    """Blocking twin of ``wait_until`` for subprocess tests (polls, never fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"daemon exited ({proc.returncode}) before {what}; last: {value!r}\n{logs()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what}; last: {value!r}\n{logs()}"
            )
        time.sleep(POLL_S)


@dataclass
class StoppedProcess:
    """A daemon process that was stopped with SIGTERM once it had traded."""

    returncode: int
    exit_after_sigterm_s: float
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_daemon_until(
    args: list[str],
    env: Mapping[str, str],
    logdir: Path,
    probe: Callable[[], Any],
    ok: Callable[[Any], bool],
    what: str,
    timeout: float = FILL_DEADLINE_S,
) -> StoppedProcess:
    """Start ``main.py <args>``, poll ``probe`` until ``ok``, SIGTERM it, time the exit."""
    out_path, err_path = logdir / "stdout.log", logdir / "stderr.log"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(MAIN), *args], cwd=REPO_ROOT, env=dict(env), stdout=out, stderr=err
        )
        try:
            poll_sync(probe, ok, what, timeout, proc, logs=lambda: err_path.read_text()[-3000:])
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            try:
                returncode = proc.wait(timeout=90)  # a deadline, not a speed check
            except subprocess.TimeoutExpired:
                returncode = -999
            elapsed = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return StoppedProcess(returncode, elapsed, out_path.read_text(), err_path.read_text())


_BATCH = """
import json, sys, traceback
sys.argv = ["main.py"]
import main
codes = []
for argv in json.loads(sys.argv_json):
    try:
        code = main.main(argv)
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    codes.append(code)
    sys.stdout.flush()
    sys.stderr.flush()
print("BATCH-EXIT-CODES " + json.dumps(codes))
"""


def run_cli_batch(
    argvs: list[list[str]], env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> tuple[list[int], str]:
    """Run several ``main.main(argv)`` calls in ONE interpreter (one import cost).

    Returns the exit codes and the whole stdout+stderr. Uncaught exceptions are
    printed as the interpreter would, so the output is what an operator would see.
    """
    script = _BATCH.replace("sys.argv_json", repr(json.dumps(argvs)))
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=dict(env or cli_env()),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    marker = "BATCH-EXIT-CODES "
    lines = [line for line in proc.stdout.splitlines() if line.startswith(marker)]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len(marker) :]), proc.stdout + proc.stderr

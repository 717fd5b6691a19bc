"""``python main.py run`` as a real process: trade, SIGTERM, clean exit, then ``status``.

On the default config, which runs the engines whose strategy passed the out-of-sample
validation (issue 15: the futures engine).

The 10 s bound between SIGTERM and exit is the requirement under test, so it is
measured; everything else waits on conditions (polling with a deadline).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.daemon.support import (
    BAD_STATES,
    DEFAULT_ENGINES,
    cli_env,
    default_engines_filled,
    run_cli,
    run_daemon_until,
    sqlite_fill_counts,
    sqlite_rows,
)

SHUTDOWN_BOUND_S = 10.0


@dataclass
class StoppedDaemon:
    db: Path
    returncode: int
    exit_after_sigterm_s: float
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def stopped_daemon(tmp_path_factory: pytest.TempPathFactory) -> StoppedDaemon:
    tmp = tmp_path_factory.mktemp("daemon-subprocess")
    db = tmp / "kinetic.db"
    run = run_daemon_until(
        ["--env-file", os.devnull, "run", "--db", str(db)],
        cli_env(KINETIC_REPLAY_SPEED="20000"),
        tmp,
        lambda: sqlite_fill_counts(db),
        default_engines_filled,
        "fills from the default engines",
    )
    return StoppedDaemon(db, run.returncode, run.exit_after_sigterm_s, run.stdout, run.stderr)


def test_sigterm_exits_zero_within_bound(stopped_daemon: StoppedDaemon) -> None:
    assert stopped_daemon.returncode == 0, stopped_daemon.stderr[-3000:]
    assert stopped_daemon.exit_after_sigterm_s <= SHUTDOWN_BOUND_S
    assert "Traceback" not in stopped_daemon.stderr + stopped_daemon.stdout


def test_journal_is_clean_after_sigterm(stopped_daemon: StoppedDaemon) -> None:
    statuses = sqlite_rows(stopped_daemon.db, "SELECT client_order_id, status FROM orders")
    assert statuses
    assert not [row for row in statuses if row[1] in BAD_STATES]
    kinds = {k for (k,) in sqlite_rows(stopped_daemon.db, "SELECT kind FROM events")}
    assert {"config_loaded", "started", "shutdown"} <= kinds


def test_status_json(stopped_daemon: StoppedDaemon) -> None:
    proc = run_cli("--env-file", os.devnull, "status", "--json", "--db", str(stopped_daemon.db))
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    status = json.loads(lines[0])
    assert isinstance(status, dict)
    assert set(DEFAULT_ENGINES) <= set(status["engines"])
    fills = dict(
        sqlite_rows(stopped_daemon.db, "SELECT engine, COUNT(*) FROM fills GROUP BY engine")
    )
    for name in DEFAULT_ENGINES:
        entry = status["engines"][name]
        for key in ("status", "last_heartbeat", "restart_count", "fills", "open_positions"):
            assert key in entry, (name, key)
        assert entry["status"] == "stopped"
        assert entry["last_heartbeat"]
        assert entry["restart_count"] == 0
        assert entry["fills"] == fills[name] > 0
        assert isinstance(entry["open_positions"], int)
    assert isinstance(status["total_value_usd"], float)
    assert status["total_value_usd"] > 0
    assert isinstance(status["total_pnl_usd"], float)
    assert status["circuit_breaker_active"] is False


def test_human_status_after_stop(stopped_daemon: StoppedDaemon) -> None:
    proc = run_cli("--env-file", os.devnull, "status", "--db", str(stopped_daemon.db))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert set(DEFAULT_ENGINES) <= rows, proc.stdout
    assert "total value" in proc.stdout

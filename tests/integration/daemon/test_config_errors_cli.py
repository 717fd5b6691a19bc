"""``main.py run`` refuses bad configuration with one clear line and a distinct exit code.

The four refused start-ups are independent processes, so one module fixture runs them
in parallel; each test then checks its own outcome.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kinetic.storage import Database, resolve_database_url
from tests.integration.daemon.conftest import run_isolated
from tests.integration.daemon.support import cli_env, run_cli

EXIT_CONFIG = 2
EXIT_SCHEMA = 3
FUTURE_REVISION = "ffff_from_future"


async def _migrate(url: str) -> None:
    db = Database(url)
    await db.connect()
    try:
        await db.migrate()
    finally:
        await db.close()


def _schema_from_the_future(path: Path) -> Path:
    """A migrated SQLite DB whose alembic_version also names an unknown revision."""
    run_isolated(_migrate(resolve_database_url(None, str(path))))
    con = sqlite3.connect(path)
    try:
        con.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (FUTURE_REVISION,))
        con.commit()
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-errors")


@pytest.fixture(scope="module")
def outcomes(tmp: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("spot_capital_pct: 70\nfutures_capital_pct: 50\n")
    future_db = _schema_from_the_future(tmp / "future.db")
    absent_env = os.devnull  # no env file: --env-file must name one that exists
    runs = {
        "capital": (
            [
                "--config",
                str(bad_yaml),
                "--env-file",
                absent_env,
                "run",
                "--db",
                str(tmp / "capital.db"),
            ],
            cli_env(),
        ),
        "max_positions": (
            ["--env-file", absent_env, "run", "--db", str(tmp / "maxpos.db")],
            cli_env(KINETIC_SPOT_MAX_POSITIONS="-1"),
        ),
        "live": (
            ["--env-file", os.devnull, "run", "--db", str(tmp / "live.db")],
            cli_env(MODE="live"),
        ),
        "schema": (["--env-file", absent_env, "run", "--db", str(future_db)], cli_env()),
    }
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        futures = {name: pool.submit(run_cli, *args, env=env) for name, (args, env) in runs.items()}
        return {name: f.result() for name, f in futures.items()}


def _one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "engine spawned" not in output
    return lines[0]


def test_capital_split_over_100_pct(outcomes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    line = _one_line_error(outcomes["capital"], EXIT_CONFIG)
    assert "spot_capital_pct" in line
    assert "futures_capital_pct" in line


def test_negative_max_positions_from_env(
    outcomes: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    line = _one_line_error(outcomes["max_positions"], EXIT_CONFIG)
    assert "spot_max_positions" in line
    assert "KINETIC_SPOT_MAX_POSITIONS" in line


def test_live_mode_without_keys_never_starts_an_engine(
    outcomes: dict[str, subprocess.CompletedProcess[str]],
    tmp: Path,
) -> None:
    line = _one_line_error(outcomes["live"], EXIT_CONFIG)
    assert "BINANCE_API_KEY" in line
    assert "BINANCE_API_SECRET" in line
    assert not (tmp / "live.db").exists(), "live mode without keys must not open the database"


def test_schema_newer_than_code_is_refused(
    outcomes: dict[str, subprocess.CompletedProcess[str]],
    tmp: Path,
) -> None:
    line = _one_line_error(outcomes["schema"], EXIT_SCHEMA)
    assert FUTURE_REVISION in line
    con = sqlite3.connect(tmp / "future.db")
    try:
        events = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        versions = {v for (v,) in con.execute("SELECT version_num FROM alembic_version")}
    finally:
        con.close()
    assert events == 0, "a refused database must not be written to"
    assert FUTURE_REVISION in versions

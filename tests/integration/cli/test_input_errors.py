"""Inputs that used to be accepted silently or end in a traceback (issue 16, item 4).

Each one now gives ONE line on stderr and exit 2, and writes nothing (no report
folder, no database, no folder for one). The refused commands are independent
processes, so one module fixture runs them in parallel; each test checks its own.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.daemon.support import MAIN, REPO_ROOT, cli_env, run_cli

EXIT_CONFIG = 2
BACKTEST = REPO_ROOT / "data" / "backtest"
BTC_5M = BACKTEST / "binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"
ETH_5M = BACKTEST / "binance_ETHUSDT_5m_2021-04-15_2021-05-31.csv.gz"
HEADER = "timestamp,open,high,low,close,volume\n"
# a quick backtest: one day of 5m bars
SHORT = ["--no-progress", "--from", "2021-01-01", "--to", "2021-01-02"]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inputs")


def _cases(tmp: Path) -> dict[str, list[str]]:
    (tmp / "BTCUSDT_5m.csv").write_text(HEADER)  # header only
    (tmp / "BTCUSDT_1m.csv").write_text("")  # not even a header
    (tmp / "funding.csv").write_text("timestamp,funding_rate\n1609459200000,0.0001\n")
    (tmp / "a_file").write_text("")
    env = ["--env-file", "/dev/null"]
    bt = [*env, "backtest", "--symbol", "BTCUSDT"]
    mysql = "mysql://trader:hunter2@db.example/kinetic"
    return {
        "symbol": [*bt, "--data", str(ETH_5M), "--report", str(tmp / "r-symbol"), *SHORT],
        "ambiguous": [*bt, "--data", str(BACKTEST), "--report", str(tmp / "r-amb"), *SHORT],
        "funding": [
            *bt,
            "--engine",
            "spot",
            "--data",
            str(BTC_5M),
            "--funding",
            str(tmp / "funding.csv"),
            "--report",
            str(tmp / "r-funding"),
            *SHORT,
        ],
        "header_only": [*bt, "--data", str(tmp / "BTCUSDT_5m.csv"), "--report", str(tmp / "r-e")],
        "zero_bytes": [*bt, "--data", str(tmp / "BTCUSDT_1m.csv"), "--report", str(tmp / "r-z")],
        "report_proc": [*bt, "--data", str(BTC_5M), "--report", "/proc/x", *SHORT],
        "report_under_file": [
            *bt,
            "--data",
            str(BTC_5M),
            "--report",
            str(tmp / "a_file" / "rep"),
            *SHORT,
        ],
        "status_mysql": [*env, "status", "--db", mysql],
        "migrate_mysql": [*env, "migrate", "--db", mysql],
        "doctor_mysql": [*env, "doctor", "--db", mysql],
        "run_mysql": [*env, "run", "--db", mysql],
        "status_new_path": [*env, "status", "--db", str(tmp / "new" / "sub" / "x.db")],
        "env_file_missing": [
            "--env-file",
            str(tmp / "absent.env"),
            "migrate",
            "--db",
            str(tmp / "envf.db"),
        ],
    }


@pytest.fixture(scope="module")
def outcomes(tmp: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    cases = _cases(tmp)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(run_cli, *argv) for name, argv in cases.items()}
        return {name: f.result() for name, f in futures.items()}


def _one_line(proc: subprocess.CompletedProcess[str], code: int = EXIT_CONFIG) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output
    assert proc.stdout == "", "nothing is reported on stdout when an input is refused"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_symbol_that_does_not_match_its_file_is_refused(
    outcomes: dict[str, subprocess.CompletedProcess[str]], tmp: Path
) -> None:
    line = _one_line(outcomes["symbol"])
    assert "holds ETHUSDT candles" in line
    assert "not BTCUSDT" in line
    assert not (tmp / "r-symbol").exists()


def test_folder_with_two_timeframes_without_timeframe_is_ambiguous(
    outcomes: dict[str, subprocess.CompletedProcess[str]], tmp: Path
) -> None:
    line = _one_line(outcomes["ambiguous"])
    assert f"--data {BACKTEST}: BTCUSDT has 1m, 5m candle files" in line
    assert "--timeframe" in line
    assert not (tmp / "r-amb").exists()


def test_funding_with_spot_engine_is_refused(
    outcomes: dict[str, subprocess.CompletedProcess[str]], tmp: Path
) -> None:
    line = _one_line(outcomes["funding"])
    assert line.endswith("--funding applies to the futures engine only")
    assert not (tmp / "r-funding").exists()


@pytest.mark.parametrize("case", ["header_only", "zero_bytes"])
def test_empty_candle_file_says_the_file_has_no_candles(
    outcomes: dict[str, subprocess.CompletedProcess[str]], tmp: Path, case: str
) -> None:
    line = _one_line(outcomes[case])
    assert "the file has no candles" in line
    assert "window" not in line  # no --from/--to was given
    assert not list(tmp.glob("r-*"))


@pytest.mark.parametrize("case", ["report_proc", "report_under_file"])
def test_unwritable_report_path_is_refused_before_the_backtest_runs(
    outcomes: dict[str, subprocess.CompletedProcess[str]], tmp: Path, case: str
) -> None:
    line = _one_line(outcomes[case])  # no summary on stdout: the run never started
    assert line.startswith("kinetic: configuration error: --report ")
    assert not (tmp / "a_file" / "rep").exists()


@pytest.mark.parametrize("command", ["status", "migrate", "doctor", "run"])
def test_unsupported_database_url_names_the_supported_schemes(
    outcomes: dict[str, subprocess.CompletedProcess[str]], command: str
) -> None:
    line = _one_line(outcomes[f"{command}_mysql"])
    assert "unsupported database URL scheme 'mysql'" in line
    assert "sqlite" in line
    assert "postgresql://" in line
    assert "hunter2" not in line


def test_status_on_a_new_path_writes_nothing(
    outcomes: dict[str, subprocess.CompletedProcess[str]], tmp: Path
) -> None:
    line = _one_line(outcomes["status_new_path"])
    path = tmp / "new" / "sub" / "x.db"
    assert line == f"kinetic: no database at {path} (status never creates one)"
    assert not (tmp / "new").exists()


def test_missing_env_file_is_refused(
    outcomes: dict[str, subprocess.CompletedProcess[str]], tmp: Path
) -> None:
    line = _one_line(outcomes["env_file_missing"])
    assert line == f"kinetic: configuration error: --env-file {tmp / 'absent.env'}: no such file"
    assert not (tmp / "envf.db").exists()


def _closed_pipe(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``main.py argv`` with its stdout pipe closed by the reader, as ``| head -0``."""
    with subprocess.Popen(
        [sys.executable, str(MAIN), *argv],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        proc.stdout.close()  # the reader is gone before anything is written
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err


def test_backtest_into_a_closed_pipe_exits_0_without_a_traceback(tmp: Path) -> None:
    # from a folder without .env and no --env-file: the default .env may be absent
    argv = ["backtest", "--symbol", "BTCUSDT", "--data", str(BTC_5M), *SHORT]
    code, err = _closed_pipe(argv, tmp)
    assert code == 0, err
    assert err == ""

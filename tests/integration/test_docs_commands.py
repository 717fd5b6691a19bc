"""The commands the README and docs show still work as written (short forms), offline.

Two kinds of check, so the docs cannot drift from the code:

* the "Configuration errors" block of docs/configuration.md is parsed (``$ command``
  followed by the exact line it prints) and every command is run;
* other documented commands are listed here with the doc that shows them; the test
  asserts the doc still holds the exact text, then runs a short form (a small window,
  a throwaway database) and checks the outcome the doc describes.

Every command is a separate process; they run in parallel (the whole module takes a few
seconds).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.daemon.support import MAIN, REPO_ROOT, cli_env
from tests.integration.sandbox.test_daemon_on_sandbox import README_LINES

DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
BTC_5M = "data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz"
# files the configuration-errors block names in its comments
CONFIG_FILES = {"bad.yaml": "spot_max_positions: abc\n", "list.yaml": "- 1\n- 2\n"}
TIMEOUT_S = 60.0


def _doc(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAIN), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


# --------------------------------------------------------- configuration errors block


@dataclass(frozen=True)
class DocError:
    command: str  # as written after "$ "
    expected: str  # the line the doc says it prints


def configuration_error_examples() -> list[DocError]:
    """The ``$ command`` / output pairs of docs/configuration.md's error block."""
    text = _doc(DOCS / "configuration.md")
    section = text.split("## Configuration errors", 1)[1]
    block = section.split("```", 2)[1]
    lines = [line for line in block.splitlines() if line.strip()]
    out = [
        DocError(line[2:], lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith("$ ") and i + 1 < len(lines)
    ]
    assert len(out) >= 8, "the configuration-errors block lost its examples"
    return out


def _split(command: str) -> tuple[dict[str, str], list[str]]:
    """``VAR=x python main.py args  # comment`` -> ({VAR: x}, args)."""
    words = shlex.split(command, comments=True)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    assert words[:2] == ["python", "main.py"], command
    return env, words[2:]


# ------------------------------------------------------------- listed doc commands


@dataclass
class Listed:
    """A documented command: where it is shown, and a short form that is run."""

    doc: Path
    shown: str  # exact text that must still be in the doc
    argv: list[str]
    check: Callable[[subprocess.CompletedProcess[str], Path], None]
    cwd: Path = REPO_ROOT
    env: dict[str, str] = field(default_factory=dict)


def _ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def _check_backtest(proc: subprocess.CompletedProcess[str], tmp: Path) -> None:
    _ok(proc)
    summary = json.loads(proc.stdout)
    assert summary["symbols"] == ["BTCUSDT"]
    assert summary["bars"] > 0
    for name in ("summary.json", "trades.csv", "equity.csv", "report.html"):
        assert (tmp / "out" / name).is_file(), name


def _exact_line(doc: Path, line: str) -> Callable[[subprocess.CompletedProcess[str], Path], None]:
    def check(proc: subprocess.CompletedProcess[str], _tmp: Path) -> None:
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.strip() == line, f"{doc.name} shows: {line}"

    return check


def _check_optimize(proc: subprocess.CompletedProcess[str], tmp: Path) -> None:
    _ok(proc)
    data = json.loads(proc.stdout)
    assert data["strategy"] == "sma_cross"
    assert len(data["windows"]) == 1
    assert set(data["best_params"]) == {"fast", "slow"}
    for name in ("results.json", "trials.csv", "oos_equity.csv", "report.html"):
        assert (tmp / "out-opt" / name).is_file(), name


def _check_readme_backtest(proc: subprocess.CompletedProcess[str], tmp: Path) -> None:
    _ok(proc)
    assert json.loads(proc.stdout)["symbols"] == ["BTCUSDT"]
    assert (tmp / "readme-report" / "report.html").is_file()


def listed_commands(tmp: Path) -> list[Listed]:
    backtesting = DOCS / "backtesting.md"
    amb = (
        "kinetic: configuration error: --data data/backtest: BTCUSDT has 1m, 5m candle files; "
        "pass --timeframe 1m or 5m"
    )
    funding = "kinetic: configuration error: --funding applies to the futures engine only"
    return [
        Listed(
            backtesting,
            "python main.py backtest --strategy sma_cross --param fast=20 --param slow=50 \\\n"
            f"    --symbol BTCUSDT --data {BTC_5M} \\\n"
            "    --from 2021-01-01 --to 2021-07-01 --cash 10000 --fee 0.001 --fill next_open \\\n"
            "    --units fractional --report out/ --json",
            shlex.split(
                "backtest --strategy sma_cross --param fast=20 --param slow=50 --symbol BTCUSDT"
                f" --data {REPO_ROOT / BTC_5M} --from 2021-01-01 --to 2021-01-15 --cash 10000"
                " --fee 0.001 --fill next_open --units fractional --report out/ --json"
                " --no-progress"
            ),
            _check_backtest,
            cwd=tmp,
        ),
        Listed(
            backtesting,
            amb,
            ["backtest", "--symbol", "BTCUSDT", "--data", "data/backtest"],
            _exact_line(backtesting, amb),
        ),
        Listed(
            backtesting,
            funding,
            ["backtest", "--symbol", "BTCUSDT", "--data", BTC_5M, "--funding", BTC_5M],
            _exact_line(backtesting, funding),
        ),
        Listed(
            backtesting,
            "python main.py optimize --strategy sma_cross --symbol BTCUSDT \\\n"
            f"    --data {BTC_5M} \\\n"
            "    --param fast=5:50 --param slow=20:200:10 --objective sharpe --trials 100 \\\n"
            "    --train 60d --test 30d --workers 2 --study smacross-btc --report out/opt",
            shlex.split(
                "optimize --strategy sma_cross --symbol BTCUSDT"
                f" --data {REPO_ROOT / BTC_5M} --param fast=5:50 --param slow=20:200:10"
                " --objective sharpe --trials 2 --train 3d --test 2d --workers 1"
                " --from 2021-01-01 --to 2021-01-06 --study smacross-btc"
                f" --storage {tmp / 'optimize.db'} --report out-opt --json --no-progress"
            ),
            _check_optimize,
            cwd=tmp,
        ),
        Listed(
            README,
            "python main.py backtest --engine spot --strategy sma_cross --param fast=20"
            " --param slow=50 \\\n"
            f"  --symbol BTCUSDT --data {BTC_5M} \\\n"
            "  --report reports/example",
            shlex.split(
                "backtest --engine spot --strategy sma_cross --param fast=20 --param slow=50"
                f" --symbol BTCUSDT --data {REPO_ROOT / BTC_5M} --report readme-report"
                " --json --no-progress"
            ),
            _check_readme_backtest,
            cwd=tmp,
        ),
        Listed(
            DOCS / "runbook.md",
            "python main.py doctor            # configuration, replay data, database",
            ["doctor", "--db", str(tmp / "doctor.db")],
            lambda proc, _tmp: (
                _ok(proc),
                _assert_in("[ok] configuration valid", proc.stdout),
                _assert_in("[ok] futures: replay data for ['BTCUSDT', 'ETHUSDT']", proc.stdout),
            ),
        ),
    ]


def _assert_in(needle: str, haystack: str) -> None:
    assert needle in haystack, haystack


# ------------------------------------------------------------------------ running


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("docs")
    for name, text in CONFIG_FILES.items():
        (path / name).write_text(text)
    return path


def _env(extra: dict[str, str]) -> dict[str, str]:
    # no .env of the developer's: the commands run as in a fresh clone
    return cli_env(**extra)


def _status_chain(tmp: Path) -> list[subprocess.CompletedProcess[str]]:
    """runbook/deployment: migrate, then status and status --json on that database."""
    db = str(tmp / "status.db")
    env = _env({})
    base = ["--env-file", os.devnull]
    return [
        _run([*base, "migrate", "--db", db], REPO_ROOT, env),
        _run([*base, "status", "--db", db], REPO_ROOT, env),
        _run([*base, "status", "--json", "--db", db], REPO_ROOT, env),
    ]


@pytest.fixture(scope="module")
def outcomes(tmp: Path) -> dict[str, object]:
    errors = configuration_error_examples()
    listed = listed_commands(tmp)
    with ThreadPoolExecutor(max_workers=8) as pool:
        err_futures = [
            pool.submit(_run, _split(e.command)[1], tmp, _env(_split(e.command)[0])) for e in errors
        ]
        listed_futures = [
            pool.submit(_run, ["--env-file", os.devnull, *c.argv], c.cwd, _env(c.env))
            for c in listed
        ]
        chain = pool.submit(_status_chain, tmp)
        return {
            "errors": list(zip(errors, [f.result() for f in err_futures], strict=True)),
            "listed": list(zip(listed, [f.result() for f in listed_futures], strict=True)),
            "chain": chain.result(),
        }


def test_configuration_error_examples_print_exactly_what_the_doc_shows(
    outcomes: dict[str, object],
) -> None:
    pairs = outcomes["errors"]
    assert isinstance(pairs, list)
    for example, proc in pairs:
        assert proc.returncode == 2, f"$ {example.command}\n{proc.stderr}"
        assert proc.stderr.strip() == example.expected, f"$ {example.command}"


def test_listed_doc_commands_are_still_in_the_docs_and_work(
    outcomes: dict[str, object], tmp: Path
) -> None:
    pairs = outcomes["listed"]
    assert isinstance(pairs, list)
    for command, proc in pairs:
        assert command.shown in _doc(command.doc), f"{command.doc.name} no longer shows it"
        command.check(proc, tmp)


def test_migrate_then_status_as_the_runbook_shows(outcomes: dict[str, object]) -> None:
    runbook, deployment = _doc(DOCS / "runbook.md"), _doc(DOCS / "deployment.md")
    assert "python main.py status            # engines" in runbook
    assert "python main.py status --json     # the same as one JSON object" in runbook
    assert "`python main.py migrate [--db URL]` applies them explicitly" in deployment
    chain = outcomes["chain"]
    assert isinstance(chain, list)
    migrate, status, status_json = chain
    _ok(migrate)
    assert "at revision" in migrate.stdout
    _ok(status)
    assert "Kinetic status" in status.stdout
    _ok(status_json)
    assert set(json.loads(status_json.stdout)) >= {"engines", "positions", "allocation"}


def test_readme_commands_table_lists_every_subcommand() -> None:
    readme = _doc(README)
    for command in ("run", "status", "migrate", "doctor", "backtest"):
        assert f"| `{command}" in readme, command


def test_readme_offline_path_shows_the_commands_the_sandbox_test_runs() -> None:
    """The sandbox, paper, live, status and stop lines, whole and in the reader's order.

    ``tests/integration/sandbox/test_daemon_on_sandbox.py`` runs exactly these lines.
    """
    readme = _doc(README)
    section = readme.split("## From replay to paper to live", 1)[1].split("\n## ", 1)[0]
    for line in README_LINES:
        assert f"\n{line}\n" in section, f"the README no longer shows: {line}"
    at = [section.index(f"\n{line}\n") for line in README_LINES]
    assert at == sorted(at), "the README shows the offline path out of order"
    # the replay step comes first and the two set-up commands stay at the top
    assert section.index("\n./start_backend.sh\n") < at[1]
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert setup.index("```sh\n./start_backend.sh\n```") < setup.index("```sh\nmake test\n```")

"""CLI habits (issue 14 item 1): global options after the command, --version, config
show (redacted, with sources) and config check; bad input is one line and exit 2."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

import main
from kinetic.ops.cli_habits import hoist_global_options
from kinetic.storage.db import head_revision
from tests.integration.daemon.support import cli_env, run_cli

EXIT_CONFIG = 2


def test_global_options_after_the_command_are_moved_in_front() -> None:
    argv = ["run", "--config", "x.yaml", "--db", "y.db", "--env-file=e.env"]
    assert hoist_global_options(argv) == [
        "--config", "x.yaml", "--env-file=e.env", "run", "--db", "y.db"
    ]  # fmt: skip
    assert hoist_global_options(["run", "--", "--config", "x"]) == ["run", "--", "--config", "x"]
    assert hoist_global_options(["run", "--config"]) == ["run", "--config"]  # argparse reports it


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_file_applies_before_or_after_the_command(where: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spot_max_positions: -1\n")
    db = tmp_path / "y.db"
    opts = ["--config", str(bad), "--env-file", "/dev/null"]
    tail = ["migrate", "--db", str(db)]
    argv = [*opts, *tail] if where == "before" else [*tail, *opts]
    proc = run_cli(*argv)  # a subprocess: main() configures logging on this stderr
    assert proc.returncode == EXIT_CONFIG
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1
    assert "spot_max_positions" in err[0]
    assert str(bad) in err[0]
    assert not db.exists()  # refused before anything was written


def test_version_prints_version_schema_and_python() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line == f"kinetic 0.1.0, schema {head_revision()}, Python {platform.python_version()}"


def test_config_show_names_each_source_and_redacts_secrets(tmp_path: Path) -> None:
    yml = tmp_path / "k.yaml"
    yml.write_text("spot_max_positions: 2\nreplay_speed: 50\n")
    envf = tmp_path / "k.env"
    envf.write_text("BINANCE_API_KEY=key-plain-AAAA\nBINANCE_API_SECRET=secret-plain-BBBB\n"
                    "TELEGRAM_CHAT_ID=42\n")  # fmt: skip
    env = cli_env(KINETIC_LOG_LEVEL="WARNING", TELEGRAM_TOKEN="tg-token-CCCC")
    proc = run_cli(
        "config", "show", "--json", "--config", str(yml), "--env-file", str(envf),
        "--replay-speed", "75", "--db", "postgresql://trader:pg-pass-DDDD@127.0.0.1/k", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for secret in ("key-plain-AAAA", "secret-plain-BBBB", "tg-token-CCCC", "pg-pass-DDDD"):
        assert secret not in proc.stdout + proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["spot_max_positions"] == {"value": "2", "source": f"YAML {yml}"}
    assert shown["replay_speed"] == {"value": "75.0", "source": "command line (--replay-speed)"}
    assert shown["log_level"] == {"value": "WARNING", "source": "KINETIC_LOG_LEVEL"}
    assert shown["spot_capital_pct"]["source"] == "default"
    assert shown["BINANCE_API_KEY"] == {"value": "***", "source": f".env ({envf})"}
    assert shown["TELEGRAM_TOKEN"] == {"value": "***", "source": "environment"}
    assert shown["TELEGRAM_CHAT_ID"]["value"] == "42"
    assert shown["DATABASE_URL"]["value"] == "postgresql://trader:***@127.0.0.1/k"


def test_config_show_text_lines() -> None:
    proc = run_cli("config", "show", "--env-file", "/dev/null", "--live")
    assert proc.returncode == 0, proc.stderr
    lines = {ln.split("=")[0].strip(): ln for ln in proc.stdout.splitlines()}
    assert lines["live_trading_enabled"].endswith("# command line (--live)")
    assert "= True" in lines["live_trading_enabled"]
    assert lines["spot_enabled"].endswith("# default")


def test_run_accepts_config_and_db_after_the_command(tmp_path: Path) -> None:
    yml = tmp_path / "x.yaml"
    yml.write_text("replay_speed: 1000000\nspot_enabled: false\n")
    db = tmp_path / "y.db"
    proc = run_cli("migrate", "--db", str(db), "--config", str(yml), "--env-file", "/dev/null")
    assert proc.returncode == 0, proc.stderr
    assert db.exists()


def test_config_check_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yml = tmp_path / "ok.yaml"
    yml.write_text("spot_max_positions: 2\nlog_level: INFO\n")
    assert main.main(["config", "check", str(yml)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"{yml}: valid (2 fields set, 1 differ from the defaults)"


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "no such file"),
        ("spot_max_positions: -1\n", "spot_max_positions=-1"),
        ("spot_max_positoins: 3\n", "unknown field 'spot_max_positoins'"),
        ("[1, 2]\n", "must hold a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_config_check_bad_file_is_one_line_exit_2(
    content: str | None, expect: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yml = tmp_path / "c.yaml"
    if content is not None:
        yml.write_text(content)
    before = sorted(tmp_path.iterdir())
    assert main.main(["config", "check", str(yml)]) == EXIT_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert expect in err[0]
    assert sorted(tmp_path.iterdir()) == before


def test_config_check_ignores_the_shell_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    yml = tmp_path / "ok.yaml"
    yml.write_text("spot_max_positions: 2\n")
    monkeypatch.setenv("KINETIC_SPOT_MAX_POSITONS", "3")  # a typo in the shell
    assert main.main(["config", "check", str(yml)]) == 0
    assert main.main(["config", "check", str(yml), "--with-env"]) == EXIT_CONFIG
    assert "spot_max_positons" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["config"], ["config", "shw"], ["config", "check"], ["run", "--bogus"]]
)
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main.main(argv)
    assert exc.value.code == EXIT_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "error:" in err[0]
    assert "--help" in err[0]


def test_config_check_counts_list_fields_that_equal_their_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yml = tmp_path / "ok.yaml"
    yml.write_text("spot_watchlist: [BTCUSDT, ETHUSDT, SOLUSDT, BNBUSDT]\nspot_max_positions: 4\n")
    assert main.main(["config", "check", str(yml)]) == 0
    assert "(2 fields set, 1 differ from the defaults)" in capsys.readouterr().out

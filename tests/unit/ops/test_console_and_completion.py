"""The ``kinetic`` console script and ``kinetic completion bash|zsh`` (issue 14 item 1).

The entry point declared in pyproject.toml resolves (``kinetic.console:main``, which runs
``main.main``) and prints the version; installed (``make install``), the ``kinetic``
executable does the same from another working directory. The
completion script is generated from the argparse tree: it names every command, parses
with ``bash -n``, and completing in a real bash gives the commands, sub-commands,
option choices and global options after the command.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kinetic import __version__

ROOT = Path(__file__).resolve().parents[3]
BASH = shutil.which("bash")


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["kinetic"]
    module, _, attr = target.partition(":")
    entry = getattr(importlib.import_module(module), attr)
    try:
        code = entry(argv)
    except SystemExit as exc:  # --version exits through argparse
        code = exc.code
    return int(code or 0), capsys.readouterr().out


def test_console_script_entry_point_resolves_and_prints_the_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _run_main(["--version"], capsys)
    assert code == 0
    assert out.startswith(f"kinetic {__version__}, schema ")


def test_installed_kinetic_executable_prints_the_version(tmp_path: Path) -> None:
    found = importlib.metadata.entry_points(group="console_scripts", name="kinetic")
    if not found:
        pytest.skip("the installed package predates the console script: run `make install`")
    assert next(iter(found)).value == "kinetic.console:main"
    exe = Path(sys.executable).parent / "kinetic"
    proc = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, timeout=60, check=False,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"kinetic {__version__}, schema ")


@pytest.fixture(scope="module")
def bash_script() -> str:
    from kinetic.ops.completion import bash_script
    from main import _parser

    return bash_script(_parser())


def test_completion_script_names_every_command_and_is_valid_bash(
    bash_script: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run_main(["completion", "bash"], capsys)
    assert code == 0
    assert out == bash_script
    for command in ("run", "backtest", "optimize", "data", "secrets", "backup", "restore",
                    "completion", "download", "rotate-password"):  # fmt: skip
        assert f" {command}" in bash_script or f"'{command}" in bash_script, command
    if BASH is None:
        pytest.skip("no bash here")
    script = tmp_path / "kinetic.bash"
    script.write_text(bash_script)
    proc = subprocess.run([BASH, "-n", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    code, zsh = _run_main(["completion", "zsh"], capsys)
    assert code == 0
    assert "bashcompinit" in zsh
    assert "complete -o filenames -F _kinetic kinetic" in zsh


@pytest.mark.skipif(BASH is None, reason="no bash here")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["kinetic", "da"], ["data"]),
        (["kinetic", "data", ""], ["check", "download", "import", "list"]),
        (["kinetic", "data", "download", "--venue", "binance-f"], ["binance-futures"]),
        (["kinetic", "--config", "x.yaml", "data", "download", "--ki"], ["--kinds"]),
        (["kinetic", "run", "--mode", "dry"], ["dry_run"]),
        (["kinetic", "backtest", "--env"], ["--env-file"]),  # a global option after the command
        (["kinetic", "completion", ""], ["bash", "zsh"]),
    ],
)
def test_completion_completes_in_bash(
    bash_script: str, tmp_path: Path, words: list[str], expected: list[str]
) -> None:
    script = tmp_path / "kinetic.bash"
    script.write_text(bash_script)
    quoted = " ".join(f"'{w}'" for w in words)
    probe = (
        f"source {script}\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n"
        "_kinetic\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    proc = subprocess.run(
        [BASH, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split()) == expected


def test_completion_for_an_unknown_shell_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "completion", "fish"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "argument shell: invalid choice: 'fish'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []

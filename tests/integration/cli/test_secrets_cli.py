"""``main.py secrets`` (issue 14 item 3) against the fake Binance venue.

Most cases call the command in-process (``secrets_cli.run`` with the parsed arguments,
standard input replaced, the master password from ``KINETIC_MASTER_PASSWORD_FILE``);
the fake venue runs on its own event loop in a thread. A few run ``main.py`` as a
process, to see exactly what an operator sees.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

import main
from config import EnvConfig, load_config
from kinetic.ops import secrets_cli
from kinetic.ops.cli_habits import hoist_global_options
from kinetic.ops.secrets import SecretsFile
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from tests.integration.daemon.support import cli_env, run_cli

FAST_N = 2**12
PW = "master-pw-for-tests"
TOKEN = "tg-token-value-42"
SECRET_MARKERS = (API_KEY, API_SECRET, PW, TOKEN)


@pytest.fixture(scope="module")
def venue_url() -> Iterator[str]:
    """A fake Binance spot venue on its own loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test:fake-binance", daemon=True)
    thread.start()
    venue = FakeBinance(futures=False)

    def call(coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, loop)
        return fut.result(60)

    call(venue.start())
    yield venue.url
    call(venue.stop())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


class Cli:
    def __init__(self, tmp: Path, venue_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp
        self.mp = monkeypatch
        self.secrets = tmp / "data" / "secrets.enc"
        self.pw = tmp / "pw"
        self.pw.write_text(PW + "\n")
        self.yaml = tmp / "k.yaml"
        self.venue_url = venue_url
        self.write_yaml(venue_url)

    def write_yaml(self, url: str) -> None:
        self.yaml.write_text(json.dumps({
            "secrets_file": str(self.secrets),
            "venue_state_dir": str(self.tmp / "state"),
            "venue_urls": {"binance_spot_rest": url},
        }))  # fmt: skip

    def make_file(self, **values: str) -> None:
        store = SecretsFile.create(self.secrets, PW, n=FAST_N)
        store.values.update(values)
        store.save()

    def stored(self) -> dict[str, str]:
        return SecretsFile.open(self.secrets, PW).values

    def __call__(
        self, *argv: str, stdin: str = "", pw_file: Path | None = None
    ) -> tuple[int, str, str]:
        """Run ``secrets ...`` in-process; return exit code, stdout and stderr lines."""
        args = main._parser().parse_args(hoist_global_options(["secrets", *argv]))
        self.mp.setenv("KINETIC_MASTER_PASSWORD_FILE", str(pw_file or self.pw))
        self.mp.setattr("sys.stdin", io.StringIO(stdin))
        out: list[str] = []
        err: list[str] = []
        config = load_config(self.yaml, environ={})
        code = secrets_cli.run(args, config, EnvConfig(), out=out.append, err=err.append)
        text = "\n".join(out + err)
        for marker in SECRET_MARKERS:  # never printed
            assert marker not in text, (argv, text)
        return code, "\n".join(out), "\n".join(err)


@pytest.fixture
def cli(tmp_path: Path, venue_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path, venue_url, monkeypatch)


def test_init_set_list_verify_remove_round_trip(cli: Cli) -> None:
    code, _, err = cli("init")  # the real KDF cost: scrypt n=2**17
    assert code == 0, err
    assert oct(cli.secrets.stat().st_mode & 0o777) == "0o600"
    code, out, err = cli("set", "BINANCE_API_KEY", stdin=f"{API_KEY}\n{API_SECRET}\n")
    assert code == 0, err
    assert "saved BINANCE_API_KEY, BINANCE_API_SECRET" in out
    assert "checked against binance spot balances" in out
    code, out, err = cli("set", "TELEGRAM_TOKEN", stdin=f"{TOKEN}\n")
    assert code == 0, err
    code, out, _ = cli("list")
    assert out.split() == ["BINANCE_API_KEY", "BINANCE_API_SECRET", "TELEGRAM_TOKEN"]
    code, out, _ = cli("verify")
    assert code == 0
    assert "ok (format 1, 3 secrets, scrypt n=131072 r=8 p=1, AES-256-GCM)" in out
    code, out, _ = cli("remove", "TELEGRAM_TOKEN")
    assert code == 0
    assert cli.stored() == {"BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET}
    text = cli.secrets.read_text()
    assert API_KEY not in text
    assert API_SECRET not in text


def test_key_the_venue_rejects_is_never_saved(cli: Cli) -> None:
    cli.make_file(BINANCE_API_KEY=API_KEY, BINANCE_API_SECRET=API_SECRET)
    before = cli.secrets.read_bytes()
    code, _, err = cli("set", "BINANCE_API_SECRET", stdin="wrong-secret\n")  # key from the file
    assert code == 2
    assert "the venue refused the key" in err
    assert "nothing saved" in err
    assert cli.secrets.read_bytes() == before


def test_unreachable_venue_saves_only_with_unvalidated(cli: Cli) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    cli.write_yaml(dead)
    cli.make_file()
    before = cli.secrets.read_bytes()
    pair = f"{API_KEY}\n{API_SECRET}\n"
    code, _, err = cli("set", "BINANCE_API_KEY", stdin=pair)
    assert code == 1
    assert "venue not reachable" in err
    assert "--unvalidated" in err
    assert cli.secrets.read_bytes() == before
    code, out, err = cli("set", "BINANCE_API_KEY", "--unvalidated", stdin=pair)
    assert code == 0, err
    assert "UNCHECKED" in out
    assert cli.stored() == {"BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": API_SECRET}


@pytest.mark.parametrize(
    ("argv", "stdin", "wrong_pw", "expect"),
    [
        (["list"], "", True, "wrong master password"),
        (["set", "MODE"], "x\n", False, "unknown secret name 'MODE'"),
        (["set", "TELEGRAM_TOKEN"], "", False, "no value for TELEGRAM_TOKEN"),
        (["remove", "KRAKEN_API_KEY"], "", False, "KRAKEN_API_KEY is not in"),
        (["init"], "", False, "already exists"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    cli: Cli, argv: list[str], stdin: str, wrong_pw: bool, expect: str
) -> None:
    cli.make_file(TELEGRAM_TOKEN=TOKEN)
    before = cli.secrets.read_bytes()
    wrong = cli.tmp / "wrong-pw"
    wrong.write_text("not the password\n")
    code, _, err = cli(*argv, stdin=stdin, pw_file=wrong if wrong_pw else None)
    assert code == 2
    assert len(err.splitlines()) == 1
    assert expect in err
    assert cli.secrets.read_bytes() == before


def test_missing_password_file_and_unsafe_mode_are_refused(cli: Cli) -> None:
    cli.make_file(TELEGRAM_TOKEN=TOKEN)
    code, _, err = cli("verify", pw_file=cli.tmp / "absent")
    assert code == 2
    assert "master password file" in err
    os.chmod(cli.secrets, 0o644)
    code, _, err = cli("verify")
    assert code == 2
    assert "chmod 600" in err


@pytest.mark.parametrize("argv", [["secrets", "set", "TELEGRAM_TOKEN", "on-argv"], ["secrets"]])
def test_values_are_never_taken_from_argv(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main.main(argv)
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_tampered_file_fails_clearly(cli: Cli) -> None:
    cli.make_file(TELEGRAM_TOKEN=TOKEN)
    doc = json.loads(cli.secrets.read_text())
    doc["ciphertext"] = doc["ciphertext"][:-8] + ("A" * 4) + doc["ciphertext"][-4:]
    cli.secrets.write_text(json.dumps(doc))
    code, _, err = cli("verify")
    assert code == 2
    assert "wrong master password, or the file was altered" in err


def test_rotate_password(cli: Cli) -> None:
    cli.make_file(TELEGRAM_TOKEN=TOKEN)
    new = cli.tmp / "new-pw"
    new.write_text("the new one\n")
    code, _, err = cli("rotate-password", "--new-password-file", str(new))
    assert code == 0, err
    assert cli("verify")[0] == 2
    assert cli("verify", pw_file=new)[0] == 0


def test_operator_sees_one_line_when_the_venue_rejects_a_key(cli: Cli) -> None:
    cli.make_file()
    before = cli.secrets.read_bytes()
    env = cli_env(KINETIC_MASTER_PASSWORD_FILE=str(cli.pw))
    proc = run_cli("secrets", "set", "BINANCE_API_KEY", "--config", str(cli.yaml),
                   "--env-file", "/dev/null", env=env, stdin=f"{API_KEY}\nwrong\n")  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "the venue refused the key" in proc.stderr
    assert cli.secrets.read_bytes() == before


def test_daemon_settings_take_keys_from_the_file_unless_the_environment_has_the_pair(
    cli: Cli,
) -> None:
    cli.make_file(BINANCE_API_KEY=API_KEY, BINANCE_API_SECRET=API_SECRET, TELEGRAM_TOKEN=TOKEN)
    opts = ["--config", str(cli.yaml), "--env-file", "/dev/null"]
    env = cli_env(KINETIC_MASTER_PASSWORD_FILE=str(cli.pw))
    proc = run_cli("config", "show", "--json", *opts, env=env)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["BINANCE_API_KEY"] == {"value": "***", "source": "secrets file"}
    assert shown["BINANCE_API_SECRET"] == {"value": "***", "source": "secrets file"}
    assert shown["secrets_file"]["value"] == str(cli.secrets)
    proc = run_cli("config", "show", "--json", *opts, env={**env, "BINANCE_API_KEY": "env-key-1"})
    shown = json.loads(proc.stdout)
    assert shown["BINANCE_API_KEY"] == {"value": "***", "source": "environment"}
    assert shown["BINANCE_API_SECRET"] == {"value": "(unset)", "source": "default"}  # no mix
    assert shown["TELEGRAM_TOKEN"]["source"] == "secrets file"
    for marker in SECRET_MARKERS:
        assert marker not in proc.stdout + proc.stderr
    wrong = cli.tmp / "wrong-pw"
    wrong.write_text("nope\n")
    env["KINETIC_MASTER_PASSWORD_FILE"] = str(wrong)
    proc = run_cli("doctor", "--db", str(cli.tmp / "d.db"), *opts, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"kinetic: configuration error: secrets: secrets file {cli.secrets}: "
        "wrong master password, or the file was altered"
    ]

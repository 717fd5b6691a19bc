"""Secrets from ``.env`` never reach the output or the database.

The CLI (``doctor``, ``migrate``, ``status``) and a daemon that trades until the
default engines have fills run with fake API keys in ``.env``; on PostgreSQL the
``DATABASE_URL`` also carries a password (the local server uses trust auth, so any
password connects). Every line printed and every row stored is then searched.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from kinetic.storage import Database, resolve_database_url
from tests.integration.daemon.conftest import run_isolated
from tests.integration.daemon.support import (
    cli_env,
    default_engines_filled,
    dump_text,
    fill_counts,
    run_cli,
    run_cli_batch,
    run_daemon_until,
    sqlite_fill_counts,
)

SECRETS = {
    "BINANCE_API_KEY": "TESTKEYvalue987abc",
    "BINANCE_API_SECRET": "TESTSECRETvalue123",
    "KRAKEN_API_KEY": "KRAKENKEYvalue555",
    "KRAKEN_API_SECRET": "KRAKENSECRETvalue777",
    "TELEGRAM_TOKEN": "TGTOKENvalue4242",
}
PG_PASSWORD = "hunter2pw"
_ABSENT_DB = f"postgresql://kinetic_nobody:{PG_PASSWORD}@127.0.0.1:5432/kinetic_test_absent"


def _write_env(path: Path, extra: dict[str, str] | None = None) -> Path:
    lines = [f"{k}={v}" for k, v in {**SECRETS, **(extra or {})}.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _assert_clean(text: str, where: str, also: tuple[str, ...] = ()) -> None:
    for secret in (*SECRETS.values(), *also):
        assert secret not in text, f"secret {secret[:4]}... leaked in {where}"


def _dump(url: str) -> str:
    async def dump() -> str:
        db = Database(url)
        await db.connect()
        try:
            return await dump_text(db)
        finally:
            await db.close()

    return run_isolated(dump())


def _cli_checks(
    env_file: Path,
    db_args: list[str],
    also: tuple[str, ...] = (),
    may_fail: list[str] | None = None,
) -> str:
    """Run ``migrate``, ``doctor``, ``status`` and ``status --json`` on the daemon's
    database (plus ``may_fail``, whose exit code is not checked); return all output."""
    base = ["--env-file", str(env_file)]
    argvs = [
        [*base, "migrate", *db_args],
        [*base, "doctor", *db_args],
        [*base, "status", *db_args],
        [*base, "status", "--json", *db_args],
    ]
    codes, output = run_cli_batch([*argvs, *([may_fail] if may_fail else [])])
    assert codes[: len(argvs)] == [0] * len(argvs), output
    _assert_clean(output, "CLI output", also)
    return output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sqlite_daemon_and_cli_never_print_or_store_secrets(tmp_path: Path) -> None:
    # Telegram on, its Bot API unreachable: every call (the token is in its URL) fails
    # and is logged
    env_file = _write_env(tmp_path / ".env", {"TELEGRAM_ENABLED": "true",
                                             "TELEGRAM_CHAT_ID": "4242"})  # fmt: skip
    db = tmp_path / "k.db"
    telegram = f"http://127.0.0.1:{_closed_port()}"
    run = run_daemon_until(
        ["--env-file", str(env_file), "run", "--db", str(db)],
        cli_env(KINETIC_REPLAY_SPEED="30000", KINETIC_TELEGRAM_API_URL=telegram),
        tmp_path,
        lambda: sqlite_fill_counts(db),
        default_engines_filled,
        "fills from the default engines",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "engine spawned" in run.output
    assert "telegram call failed; retrying" in run.output
    _assert_clean(run.output, "daemon output")
    _assert_clean(_dump(resolve_database_url(None, str(db))), "the database")
    output = _cli_checks(env_file, ["--db", str(db)])
    assert '"engines": {' in output


def _pg_fills(url: str) -> dict[str, int]:
    async def counts() -> dict[str, int]:
        db = Database(url)
        await db.connect()
        try:
            return await fill_counts(db)
        except Exception:  # tables not created yet
            return {}
        finally:
            await db.close()

    return asyncio.run(counts())


@pytest.mark.postgres
def test_postgres_password_is_masked(tmp_path: Path, pg_url: str) -> None:
    # pg_url is postgresql+asyncpg://user@host/name: give it a password
    user_host = pg_url.split("://", 1)[1]
    user, rest = user_host.split("@", 1)
    url_with_password = f"postgresql://{user}:{PG_PASSWORD}@{rest}"
    env_file = _write_env(tmp_path / ".env", {"DATABASE_URL": url_with_password})
    also = (PG_PASSWORD,)

    run = run_daemon_until(
        ["--env-file", str(env_file), "run"],
        cli_env(KINETIC_REPLAY_SPEED="30000"),
        tmp_path,
        lambda: _pg_fills(pg_url),
        default_engines_filled,
        "fills from the default engines in PostgreSQL",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "database ready" in run.output
    _assert_clean(run.output, "daemon output", also)
    stored = _dump(pg_url)
    assert "config_loaded" in stored
    _assert_clean(stored, "the database", also)
    # a connection PostgreSQL refuses (unknown role and database) must not echo it either
    refused = ["--env-file", os.devnull, "doctor", "--db", _ABSENT_DB]
    output = _cli_checks(env_file, [], also, may_fail=refused)
    assert f"postgresql+asyncpg://{user}:***@" in output  # the URL is shown, masked
    assert "kinetic_nobody" in output  # the refused connection was attempted
    assert '"futures": {"status": "stopped"' in output  # status --json read the PG rows


@pytest.mark.postgres
async def test_doctor_reports_refused_database_as_fail_line(pg_url: str) -> None:
    del pg_url  # the server must be up: a PostgreSQL outage is an error here
    proc = await asyncio.to_thread(run_cli, "--env-file", os.devnull, "doctor", "--db", _ABSENT_DB)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "[FAIL] database postgresql+asyncpg://kinetic_nobody:***@" in proc.stdout

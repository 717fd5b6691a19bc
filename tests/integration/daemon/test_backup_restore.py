"""Backup and restore (issue 14 item 4) on SQLite and PostgreSQL.

A backup taken while a replay daemon writes restores to a database whose journal
(orders, fills), positions and events equal the source at the backup point: the backup
reads those tables in the very snapshot it copies, and the restored database must hold
exactly those rows, although the daemon kept writing after the backup. A restore is
refused while the daemon runs on its target, and the database it replaces is kept.
"""

from __future__ import annotations

import asyncio
import gzip
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from config import EnvConfig
from kinetic.app import Daemon
from kinetic.ops.backup import BackupInputError, prune, take_backup
from kinetic.ops.restore import restore_backup
from kinetic.storage.db import resolve_database_url, sqlite_file
from tests.integration.daemon.conftest import run_isolated, temp_pg_database
from tests.integration.daemon.support import (
    ENGINES,
    cli_env,
    fast_config,
    fill_counts,
    query,
    run_cli,
    wait_until,
)
from tests.pg import drop_pg_database

TABLES = ("orders", "fills", "positions", "events")


def _rows_sqlite(url: str) -> dict[str, list[tuple[Any, ...]]]:
    path = sqlite_file(url)
    assert path is not None
    con = sqlite3.connect(path)
    try:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        con.close()


async def _rows_pg(url: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        out = {}
        for t in TABLES:
            rows = [tuple(r.values()) for r in await conn.fetch(f"SELECT * FROM {t}")]
            out[t] = sorted(rows, key=repr)
        return out
    finally:
        await conn.close()


async def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return _rows_sqlite(url) if sqlite_file(url) else await _rows_pg(url)


async def _backup_while_daemon_writes(url: str, tmp: Path) -> tuple[Any, int]:
    daemon = Daemon(fast_config(tmp / "unused.db"), EnvConfig(), mode="replay", database_url=url)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="test:daemon")
    try:
        await wait_until(
            lambda: fill_counts(daemon.db),
            lambda c: all(c.get(e, 0) >= 1 for e in ENGINES),
            "fills from both engines",
            task=task,
        )
        # the backup runs in a thread: the daemon keeps writing meanwhile
        result = await asyncio.to_thread(take_backup, url, tmp / "backups", 0, capture=TABLES)
        with pytest.raises(BackupInputError, match="a daemon is running"):
            await asyncio.to_thread(restore_backup, result.path, url, confirm=True)
        taken = len(result.captured["events"])
        count = lambda: query(daemon.db, "SELECT count(*) FROM events")  # noqa: E731
        await wait_until(count, lambda r: r[0][0] > taken + 5, "events after the backup", task=task)
    finally:
        stop.set()
        await task
    return result, taken


def _check(result: Any, restored: dict[str, list[tuple[Any, ...]]], source_now: Any) -> None:
    assert result.captured["fills"], "the backup point must hold fills"
    assert result.captured["orders"]
    for table in TABLES:
        assert restored[table] == result.captured[table], table
    assert len(source_now["events"]) > len(result.captured["events"])  # it moved on


def test_sqlite_backup_during_a_replay_restores_the_backup_point(tmp_path: Path) -> None:
    url = resolve_database_url(None, str(tmp_path / "live.db"))
    result, _ = run_isolated(_backup_while_daemon_writes(url, tmp_path))
    assert result.path.name.endswith(".db.gz")
    assert oct(result.path.stat().st_mode & 0o777) == "0o600"
    target = resolve_database_url(None, str(tmp_path / "restored.db"))
    done = restore_backup(result.path, target, confirm=True)
    assert done.kept is None
    _check(result, _rows_sqlite(target), _rows_sqlite(url))
    # restoring over the (now stopped) source keeps the file it replaces, whole
    before = _rows_sqlite(url)
    done = restore_backup(result.path, url, confirm=True)
    assert done.kept is not None
    kept_url = resolve_database_url(None, done.kept)
    assert _rows_sqlite(kept_url) == before
    assert _rows_sqlite(url) == result.captured


@pytest.fixture
def pg_pair() -> Iterator[tuple[str, str]]:
    source = temp_pg_database()
    target = temp_pg_database()
    yield next(source), next(target)
    for gen in (source, target):
        next(gen, None)


@pytest.mark.postgres
def test_postgres_backup_during_a_replay_restores_the_backup_point(
    tmp_path: Path, pg_pair: tuple[str, str]
) -> None:
    url, target = pg_pair
    result, _ = run_isolated(_backup_while_daemon_writes(url, tmp_path))
    assert result.path.name.endswith(".dump")
    done = restore_backup(result.path, target, confirm=True)
    assert done.kept is not None  # the fixture's empty database, renamed
    try:
        restored = run_isolated(_rows_pg(target))
        _check(result, restored, run_isolated(_rows_pg(url)))
    finally:
        kept = target.rsplit("/", 1)[0] + "/" + done.kept
        run_isolated(drop_pg_database(kept))


def test_restore_refuses_bad_input_and_changes_nothing(tmp_path: Path) -> None:
    url = resolve_database_url(None, str(tmp_path / "a.db"))
    con = sqlite3.connect(tmp_path / "a.db")
    con.execute("CREATE TABLE alembic_version (version_num TEXT)")
    con.execute("INSERT INTO alembic_version VALUES ('9999')")
    con.commit()
    con.close()
    backups = tmp_path / "b"
    newer = take_backup(url, backups, 0).path  # a database from a "newer" Kinetic
    junk = tmp_path / "junk.db.gz"
    junk.write_bytes(gzip.compress(b"not a database"))
    target = tmp_path / "t.db"
    target.write_bytes(b"")
    cases = [
        ([str(newer), "--db", str(target)], "add --confirm"),
        ([str(newer), "--db", str(target), "--confirm"], "schema revision 9999"),
        ([str(junk), "--db", str(target), "--confirm"], "neither a SQLite backup"),
        ([str(tmp_path / "absent.db.gz"), "--db", str(target), "--confirm"], "no backup file"),
        ([str(newer), "--db", "postgresql://u@127.0.0.1/x", "--confirm"], "is a sqlite backup"),
    ]
    env = cli_env()
    for argv, expect in cases:
        proc = run_cli("--env-file", "/dev/null", "restore", *argv, env=env)
        assert proc.returncode == 2, (argv, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert expect in lines[0]
    assert target.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "b", "junk.db.gz", "t.db"]


def test_backup_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for argv, expect in [
        (["--db", str(tmp_path / "none.db")], "no database at"),
        (["--db", str(tmp_path / "none.db"), "--keep-days", "-1"], "--keep-days -1"),
        (["--db", str(tmp_path / "file"), "--to", str(tmp_path / "file")], "not a folder"),
        (["--keep-days", "x"], "invalid int value"),
    ]:
        proc = run_cli("--env-file", "/dev/null", "backup", "--to", str(tmp_path / "bk"), *argv)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert expect in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_prune_deletes_only_old_backups(tmp_path: Path) -> None:
    import os

    names = ["kinetic-old.db.gz", "kinetic-old.dump", "kinetic-new.db.gz", "other.txt"]
    for n in names:
        (tmp_path / n).write_text("x")
    day = 86400.0
    now = 1_800_000_000.0
    for n in ("kinetic-old.db.gz", "kinetic-old.dump", "other.txt"):
        os.utime(tmp_path / n, (now - 15 * day, now - 15 * day))
    os.utime(tmp_path / "kinetic-new.db.gz", (now - day, now - day))
    keep = tmp_path / "kinetic-new.db.gz"
    assert prune(tmp_path, 0, keep=keep, now_s=now) == []
    gone = prune(tmp_path, 14, keep=keep, now_s=now)
    assert sorted(p.name for p in gone) == ["kinetic-old.db.gz", "kinetic-old.dump"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kinetic-new.db.gz", "other.txt"]

"""``python main.py backup``: a consistent copy of the database, checked, old ones pruned.

SQLite: the online backup API from inside a read transaction (WAL: a snapshot the
daemon's writers do not disturb), ``PRAGMA integrity_check`` on the copy, gzip:
``kinetic-<UTC stamp>.db.gz``. PostgreSQL: ``pg_dump -Fc`` in the snapshot of a
repeatable-read transaction this module exports (``pg_export_snapshot``), then
``pg_restore --list`` proves the archive readable: ``kinetic-<UTC stamp>.dump``. The
password reaches ``pg_dump`` through ``PGPASSWORD``, never its command line.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kinetic.storage.db import safe_url, sqlite_file

PATTERNS = ("kinetic-*.db.gz", "kinetic-*.dump")
Rows = dict[str, list[tuple[Any, ...]]]


class BackupError(Exception):
    """The backup could not be taken or checked (one line, no password)."""


class BackupInputError(BackupError):
    """Bad input: nothing was done (exit 2)."""


@dataclass
class BackupResult:
    path: Path
    size_bytes: int
    pruned: list[Path] = field(default_factory=list)
    captured: Rows = field(default_factory=dict)  # tables read at the backup point


def stamp(now_s: float | None = None) -> str:
    when = datetime.fromtimestamp(time.time() if now_s is None else now_s, tz=UTC)
    return when.strftime("%Y%m%dT%H%M%SZ")


def take_backup(
    url: str, to_dir: Path, keep_days: int, *, capture: Sequence[str] = ()
) -> BackupResult:
    """Back up the database at ``url`` into ``to_dir``; prune older than ``keep_days``.

    ``capture`` names tables whose rows are read in the same snapshot (for tests and
    audits: what exactly the backup holds).
    """
    if keep_days < 0:
        raise BackupInputError(f"--keep-days {keep_days}: allowed >= 0 (0 keeps every backup)")
    if to_dir.exists() and not to_dir.is_dir():
        raise BackupInputError(f"--to {to_dir}: not a folder")
    path = sqlite_file(url)
    if path is None and not url.startswith("postgresql"):
        raise BackupInputError(f"cannot back up {safe_url(url)}: not a file or PostgreSQL")
    if path is not None and not path.is_file():
        raise BackupInputError(f"no database at {path} (nothing to back up)")
    to_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"kinetic-{stamp()}"
    if path is not None:
        result = _backup_sqlite(path, to_dir / f"{name}.db.gz", capture)
    else:
        result = asyncio.run(_backup_postgres(url, to_dir / f"{name}.dump", capture))
    result.pruned = prune(to_dir, keep_days, keep=result.path)
    return result


def prune(to_dir: Path, keep_days: int, *, keep: Path, now_s: float | None = None) -> list[Path]:
    """Delete backups at least ``keep_days`` old (never ``keep``); 0 keeps all."""
    if keep_days == 0:
        return []
    cutoff = (time.time() if now_s is None else now_s) - keep_days * 86400
    gone: list[Path] = []
    for pattern in PATTERNS:
        for old in sorted(to_dir.glob(pattern)):
            if old != keep and old.stat().st_mtime <= cutoff:
                old.unlink()
                gone.append(old)
    return gone


def _backup_sqlite(src: Path, dst: Path, capture: Sequence[str]) -> BackupResult:
    partial = dst.with_name(f".{dst.name}.partial")
    raw = dst.with_name(f".{dst.stem}.partial")  # uncompressed copy
    con = sqlite3.connect(src, timeout=30, isolation_level=None)
    try:
        con.execute("BEGIN")  # a read transaction: the snapshot the copy and capture share
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        sql = "SELECT * FROM {}"  # table names pass _ident: letters, digits, underscores
        captured = {t: _sorted(con.execute(sql.format(_ident(t))).fetchall()) for t in capture}
        out = sqlite3.connect(raw)
        try:
            con.backup(out)
            check = out.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            out.close()
        con.execute("COMMIT")
    except sqlite3.Error as exc:
        raw.unlink(missing_ok=True)
        raise BackupError(f"SQLite backup of {src} failed: {exc}") from None
    finally:
        con.close()
    if check != "ok":
        raw.unlink(missing_ok=True)
        raise BackupError(f"integrity check of the copy failed: {check}")
    with raw.open("rb") as fin, gzip.open(partial, "wb", compresslevel=6) as fout:
        shutil.copyfileobj(fin, fout)
    raw.unlink()
    os.chmod(partial, 0o600)
    os.replace(partial, dst)
    return BackupResult(dst, dst.stat().st_size, captured=captured)


async def _backup_postgres(url: str, dst: Path, capture: Sequence[str]) -> BackupResult:
    import asyncpg

    tools = [shutil.which("pg_dump"), shutil.which("pg_restore")]
    if None in tools:
        raise BackupError("pg_dump/pg_restore not found: install the PostgreSQL client tools")
    params = pg_params(url)
    try:
        conn = await asyncpg.connect(**params)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupError(f"cannot connect to {safe_url(url)}: {type(exc).__name__}") from None
    partial = dst.with_name(f".{dst.name}.partial")
    try:
        tx = conn.transaction(isolation="repeatable_read", readonly=True)
        await tx.start()
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        sql = "SELECT * FROM {}"  # table names pass _ident: letters, digits, underscores
        captured = {}
        for t in capture:
            captured[t] = _sorted(
                [tuple(r.values()) for r in await conn.fetch(sql.format(_ident(t)))]
            )
        dump = [f"--snapshot={snapshot}", "--format=custom", "--no-owner", f"--file={partial}"]
        await _run([*pg_cli_args(params), *dump], "pg_dump", params)
        await tx.commit()
    finally:
        await conn.close()
    try:
        await _run(["pg_restore", "--list", str(partial)], "pg_restore --list", params)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    os.chmod(partial, 0o600)
    os.replace(partial, dst)
    return BackupResult(dst, os.stat(dst).st_size, captured=captured)


def pg_params(url: str) -> dict[str, Any]:
    """asyncpg connection parameters from a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {"host": u.host or "127.0.0.1", "port": u.port or 5432, "user": u.username,
            "password": u.password, "database": u.database}  # fmt: skip


def pg_cli_args(params: dict[str, Any], tool: str = "pg_dump") -> list[str]:
    """A libpq tool's connection options (the password goes through PGPASSWORD)."""
    args = [tool, f"--host={params['host']}", f"--port={params['port']}",
            f"--dbname={params['database']}"]  # fmt: skip
    if params.get("user"):
        args.append(f"--username={params['user']}")
    return args


async def _run(argv: list[str], what: str, params: dict[str, Any]) -> None:
    env = dict(os.environ)
    if params.get("password"):
        env["PGPASSWORD"] = str(params["password"])
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        first = err.decode(errors="replace").strip().splitlines()[:1]
        raise BackupError(f"{what} failed (exit {proc.returncode}): {' '.join(first)[:300]}")


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


def _ident(table: str) -> str:
    if not table.replace("_", "").isalnum():
        raise BackupInputError(f"bad table name {table!r}")
    return table

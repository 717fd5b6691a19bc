"""``python main.py restore FILE --confirm``: put a backup back, keeping what it replaces.

Refused (exit 2, nothing changed) without ``--confirm``, while a daemon runs on the
target database (its ``daemon_alive`` row is fresh: the same test ``killswitch`` uses),
when the file's kind does not match the target (SQLite copy vs PostgreSQL dump) or its
schema revision is one this Kinetic does not know.

SQLite: the copy is unpacked next to the target and checked (``integrity_check``,
revision); only then is the old file checkpointed and renamed to
``<name>.pre-restore-<stamp>`` and the copy moved into place. PostgreSQL: the dump is
restored into a new database ``<name>_restore_<stamp>``; only when ``pg_restore``
succeeded is the old database renamed ``<name>_pre_restore_<stamp>`` and the new one
given its name. The replaced database is kept in both cases: delete it once satisfied.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinetic.ops.backup import (
    BackupError,
    BackupInputError,
    _run,
    pg_cli_args,
    pg_params,
    stamp,
)
from kinetic.storage.db import known_revisions, safe_url, sqlite_file

SQLITE_MAGIC = b"SQLite format 3\0"


@dataclass
class RestoreResult:
    target: str
    revision: str
    kept: str | None  # the replaced database (file or database name), if there was one


def restore_backup(file: Path, url: str, *, confirm: bool) -> RestoreResult:
    """Restore ``file`` into the database at ``url`` (see the module docstring)."""
    target = sqlite_file(url)
    where = str(target) if target is not None else safe_url(url)
    if not confirm:
        raise BackupInputError(f"restore replaces the database at {where}; add --confirm")
    if not file.is_file():
        raise BackupInputError(f"no backup file at {file}")
    kind = _kind(file)
    if kind == "unknown":
        raise BackupInputError(f"{file} is neither a SQLite backup nor a pg_dump archive")
    if (kind == "postgres") != (target is None):
        raise BackupInputError(
            f"{file} is a {kind} backup; the target {where} is not (restore into the same kind)"
        )
    running = asyncio.run(daemon_on(url))
    if running:
        raise BackupInputError(f"a daemon is running on {where} ({running}); stop it first")
    if target is not None:
        return _restore_sqlite(file, target)
    return asyncio.run(_restore_postgres(file, url))


async def daemon_on(url: str) -> str | None:
    """A running daemon's description, or None (no database, no schema, stale row)."""
    from kinetic.clock import RealClock
    from kinetic.control.cli import daemon_liveness
    from kinetic.storage.db import Database
    from kinetic.storage.repositories import Repositories

    path = sqlite_file(url)
    if path is not None:  # read-only: refusing must not touch the file
        return await daemon_on_sqlite(path)
    import asyncpg
    from sqlalchemy.exc import SQLAlchemyError

    db = Database(url)
    try:
        await db.connect()
        if await db.schema_version() is None:
            return None
        alive = await daemon_liveness(Repositories.create(db, RealClock()), RealClock())
    except (OSError, SQLAlchemyError, asyncpg.PostgresError) as exc:
        if "does not exist" in str(exc):  # no such PostgreSQL database: nothing runs on it
            return None
        raise BackupError(f"cannot open {safe_url(url)}: {type(exc).__name__}") from None
    finally:
        await db.close()
    return str(alive["detail"]) if alive["running"] else None


async def daemon_on_sqlite(path: Path) -> str | None:
    """As :func:`daemon_on`, reading the SQLite file read-only."""
    from typing import cast

    from kinetic.clock import RealClock
    from kinetic.control.cli import ALIVE_KEY, daemon_liveness
    from kinetic.storage.repositories import Repositories

    found = _alive_row(path, ALIVE_KEY)
    if found is None:
        return None

    class _Row:  # what daemon_liveness reads: repos.installation.get(key)
        @staticmethod
        async def get(_key: str) -> str | None:
            return found or None

    class _Repos:
        installation = _Row()

    alive = await daemon_liveness(cast(Repositories, _Repos()), RealClock())
    return str(alive["detail"]) if alive["running"] else None


def _alive_row(path: Path, key: str) -> str | None:
    """The liveness row's value ("" without one); None: no file, or no schema yet."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT value FROM installation WHERE key = ?", (key,)).fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:  # no schema yet: no daemon ever ran on it
        return None
    except sqlite3.DatabaseError as exc:
        raise BackupInputError(f"{path} is not a readable SQLite database ({exc})") from None
    return str(row[0]) if row else ""


def _kind(file: Path) -> str:
    with file.open("rb") as fh:
        head = fh.read(16)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(file, "rb") as fh:
            head = fh.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(b"PGDMP"):
        return "postgres"
    return "unknown"


def _check_revision(revision: str | None, source: str) -> str:
    if revision is None:
        raise BackupInputError(f"{source} holds no Kinetic schema (no alembic_version)")
    if revision not in known_revisions():
        raise BackupInputError(
            f"{source} is at schema revision {revision}, which this Kinetic does not know "
            "(taken by a newer version?): upgrade first"
        )
    return revision


def _restore_sqlite(file: Path, target: Path) -> RestoreResult:
    when = stamp()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restore-{when}.partial")
    try:
        opener: Any = gzip.open if file.read_bytes()[:2] == b"\x1f\x8b" else open
        with opener(file, "rb") as fin, partial.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
        revision = _sqlite_check(partial, str(file))
        kept = _set_aside(target, when) if target.exists() else None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return RestoreResult(str(target), revision, str(kept) if kept else None)


def _sqlite_check(path: Path, source: str) -> str:
    con = sqlite3.connect(path)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"{source}: integrity check failed: {check}")
        try:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            row = None
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source}: not a readable SQLite database ({exc})") from None
    finally:
        con.close()
    return _check_revision(row[0] if row else None, source)


def _set_aside(target: Path, when: str) -> Path:
    """Fold the target's WAL into it, then rename it (with nothing left beside it)."""
    con = sqlite3.connect(target, timeout=5, isolation_level=None)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mode = con.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.Error as exc:
        msg = f"cannot take {target} out of use ({exc}); is a process using it?"
        raise BackupError(msg) from None
    finally:
        con.close()
    if mode != "delete":
        raise BackupError(f"cannot take {target} out of use (journal mode stays {mode})")
    kept = target.with_name(f"{target.name}.pre-restore-{when}")
    os.rename(target, kept)
    for suffix in ("-wal", "-shm"):  # a stale WAL must never meet the restored file
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return kept


async def _restore_postgres(file: Path, url: str) -> RestoreResult:
    import asyncpg

    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore not found: install the PostgreSQL client tools")
    params = pg_params(url)
    name = str(params["database"])
    when = stamp().lower()
    fresh, kept = f"{name[:40]}_restore_{when}", f"{name[:36]}_pre_restore_{when}"
    admin = await asyncpg.connect(**{**params, "database": "postgres"})
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        await admin.execute(f'CREATE DATABASE "{fresh}"')
        try:
            tool = pg_cli_args({**params, "database": fresh}, "pg_restore")
            await _run([*tool, "--no-owner", "--exit-on-error", str(file)], "pg_restore", params)
            revision = await _pg_revision({**params, "database": fresh}, str(file))
            if exists:
                others = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
                )
                if others:
                    raise BackupInputError(f"database {name} has {others} open connections; "
                                           "stop what uses it first")  # fmt: skip
                await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{kept}"')
        except BaseException:
            await admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
            raise
        await admin.execute(f'ALTER DATABASE "{fresh}" RENAME TO "{name}"')
    finally:
        await admin.close()
    return RestoreResult(safe_url(url), revision, kept if exists else None)


async def _pg_revision(params: dict[str, Any], source: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(**params)
    try:
        revision = await conn.fetchval("SELECT version_num FROM alembic_version")
    except asyncpg.UndefinedTableError:
        revision = None
    finally:
        await conn.close()
    return _check_revision(revision, source)

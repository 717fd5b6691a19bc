"""Database handle: URL resolution, async engine, Alembic migrations, sessions.

SQLite (``sqlite+aiosqlite``) is the default; PostgreSQL goes through ``asyncpg``.
URLs are only ever logged or put in messages through ``safe_url``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from config import ConfigValidationError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000

_PG_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg2://", "postgresql+psycopg://")
_USERINFO_PASSWORD = re.compile(r"(?P<head>://[^:/@]*:)[^@]*(?P<tail>@)")


class StorageError(Exception):
    """Base class for persistence-layer errors."""


class SchemaTooNewError(StorageError):
    """The database was migrated by a newer Kinetic; refuse to touch it."""


class SchemaNotInitializedError(StorageError):
    """The database has no Kinetic schema yet; ``Database.migrate`` creates it."""


class SchemaOutdatedError(StorageError):
    """The database schema is older than this code; run ``Database.migrate``."""


class NotConnectedError(StorageError):
    """The database was used before ``connect`` or after ``close``."""


def safe_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USERINFO_PASSWORD.sub(r"\g<head>***\g<tail>", url)


SUPPORTED_URLS = "a SQLite path or sqlite:///PATH, or postgresql://USER:PASS@HOST/DB"


class UnsupportedDatabaseURLError(ConfigValidationError):
    """The database URL names a backend Kinetic does not support (exit 2, one line)."""


def resolve_database_url(
    database_url: str | None, sqlite_path: str, *, create_dir: bool = True
) -> str:
    """Return the async SQLAlchemy URL to use.

    ``None`` selects SQLite at ``sqlite_path`` (made absolute; its folder is created
    unless ``create_dir`` is false). ``postgres://`` and ``postgresql://`` URLs are
    rewritten to the ``asyncpg`` driver, plain ``sqlite://`` ones to ``aiosqlite``; any
    other scheme raises ``UnsupportedDatabaseURLError``.
    """
    if database_url is None or not database_url.strip():
        path = Path(sqlite_path).expanduser().resolve()
        if create_dir:
            path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    url = database_url.strip()
    for prefix in _PG_PREFIXES:
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://"):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        scheme = url.partition("://")[0] if "://" in url else url.partition(":")[0]
        raise UnsupportedDatabaseURLError(
            f"unsupported database URL scheme {scheme!r} ({safe_url(url)}); "
            f"supported: {SUPPORTED_URLS}"
        )
    return url


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (``None`` for other backends and in-memory SQLite)."""
    head = "sqlite+aiosqlite:///"
    if not url.startswith(head):
        return None
    path = url[len(head) :].partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def alembic_config(connection: Connection | None = None) -> Config:
    """Build the Alembic config in code; no ``alembic.ini`` is needed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def known_revisions() -> frozenset[str]:
    """Return every revision id this code's migrations define."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def head_revision() -> str:
    """Return the newest revision id this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise StorageError("no migrations found")
    return head


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class Database:
    """An async engine plus migrations and session factory for one database URL."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    def __repr__(self) -> str:
        return f"Database({safe_url(self._url)!r})"

    @property
    def url(self) -> str:
        """The URL as given (may hold a password: log ``safe_url`` instead)."""
        return self._url

    @property
    def dialect(self) -> str:
        """The SQLAlchemy dialect name, ``sqlite`` or ``postgresql``."""
        return make_url(self._url).get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        """The connected engine; raises ``NotConnectedError`` before ``connect``."""
        if self._engine is None:
            raise NotConnectedError(f"{self!r} is not connected")
        return self._engine

    async def connect(self) -> None:
        """Create the engine; on SQLite turn on WAL and a busy timeout."""
        if self._engine is not None:
            return
        is_sqlite = self.dialect == "sqlite"
        kwargs: dict[str, Any] = {"pool_pre_ping": not is_sqlite}
        if is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_async_engine(self._url, **kwargs)
        if is_sqlite:
            event.listen(engine.sync_engine, "connect", _enable_sqlite_pragmas)
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        log.info("database engine created for %s", safe_url(self._url))

    async def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessions = None

    async def schema_version(self) -> str | None:
        """Return the database's Alembic revision, or ``None`` if uninitialised."""
        async with self.engine.connect() as conn:
            heads = await conn.run_sync(_current_heads)
        return heads[0] if len(heads) == 1 else (",".join(heads) or None)

    async def check_schema(self) -> str:
        """Verify the schema is exactly this code's head and return the revision.

        Raises ``SchemaTooNewError`` if the database carries a revision this code
        does not know, ``SchemaNotInitializedError`` if it has none, and
        ``SchemaOutdatedError`` if it is behind.
        """
        async with self.engine.connect() as conn:
            heads = await conn.run_sync(_current_heads)
        self._refuse_unknown(heads)
        if not heads:
            raise SchemaNotInitializedError(f"{self!r} has no schema; run migrate")
        head = head_revision()
        if heads != (head,):
            raise SchemaOutdatedError(f"{self!r} is at {heads}, code expects {head}")
        return head

    async def migrate(self) -> str:
        """Upgrade the schema to head (creating it if empty); return the revision.

        Refuses (``SchemaTooNewError``) when the database is at a revision this
        code does not know. Upgrading an up-to-date database is a no-op.
        """
        async with self.engine.begin() as conn:
            heads = await conn.run_sync(_current_heads)
            self._refuse_unknown(heads)
            await conn.run_sync(_upgrade)
        head = head_revision()
        log.info("database %s migrated to %s", safe_url(self._url), head)
        return head

    def _refuse_unknown(self, heads: tuple[str, ...]) -> None:
        unknown = sorted(set(heads) - known_revisions())
        if unknown:
            raise SchemaTooNewError(
                f"{self!r} is at revision {', '.join(unknown)}, which this Kinetic "
                "does not know (migrated by a newer version?); refusing to run"
            )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield a new ``AsyncSession``; callers open the transaction."""
        if self._sessions is None:
            raise NotConnectedError(f"{self!r} is not connected")
        async with self._sessions() as session:
            yield session

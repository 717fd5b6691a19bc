"""The order journal's fast path: one dedicated connection, prepared upserts.

The OMS journals every order before it is sent (``Recorder.record_order``), so that write
sits on the kline-to-order path. Going through an SQLAlchemy session costs 5-7 ms on
SQLite (session, pool checkout, ORM compile, ``BEGIN``/``COMMIT`` round trips on the
driver's thread); a raw statement on a connection of its own costs a fraction of that.

``open_journal`` returns, for the database URL the daemon uses,

* ``SqliteJournal``: an ``aiosqlite`` connection in autocommit mode, WAL, a busy timeout,
  and ``synchronous=NORMAL`` by default (``FULL`` on request; see docs/deployment.md,
  "Order journal durability"). Each write is one statement on the driver's thread, so one
  thread hop; sqlite3's statement cache keeps the statements compiled.
* ``PostgresJournal``: an ``asyncpg`` connection with the two statements prepared once;
  each write is one round trip in its own implicit transaction.

Both write exactly the rows ``OrderRepository.upsert`` and ``FillRepository.add`` write
(same tables, columns, conflict rules and ``ExactDecimal`` encoding; tests compare them),
so every reader keeps using the repositories. A write either commits before the call
returns or raises: the OMS sends nothing it could not journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

import aiosqlite
import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kinetic.domain import Fill, Order, OrderStatus
from kinetic.storage.models import FillRow, OrderRow
from kinetic.storage.records import fill_values, order_values
from kinetic.storage.types import ExactDecimal, canonical_decimal

SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_SYNCHRONOUS = ("NORMAL", "FULL")
PG_CONNECT_TIMEOUT_SECONDS = 10.0

ORDER_KEYS = ("client_order_id",)
FILL_KEYS = ("engine", "symbol", "trade_id")
_TERMINAL = tuple(s.value for s in OrderStatus if s.is_terminal)

Converter = Callable[[Any], Any]


class OrderJournal(Protocol):
    """Where the OMS journals orders and fills before and after talking to the venue."""

    async def record_order(self, engine: str, order: Order, reason: str = "") -> None:
        """Insert or update ``order`` (same rules as ``OrderRepository.upsert``)."""
        ...

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        """Store ``fill``; return False if ``(engine, symbol, trade_id)`` was stored."""
        ...

    async def close(self) -> None:
        """Close the journal's connection."""
        ...


# --------------------------------------------------------------------------- SQL text
def _placeholders(count: int, style: str) -> str:
    if style == "qmark":
        return ", ".join("?" * count)
    return ", ".join(f"${i}" for i in range(1, count + 1))


def order_upsert_sql(style: str) -> str:
    """``INSERT ... ON CONFLICT DO UPDATE`` for ``orders``, as ``OrderRepository.upsert``.

    Every non-key column takes the new value, except: an empty ``reason`` keeps the
    stored one, a stored non-zero ``created_ms`` is kept, and a final order is never
    updated again (a late write of an older state must not resurrect it).
    """
    cols = [c.name for c in OrderRow.__table__.columns]
    sets = []
    for name in cols:
        if name in ORDER_KEYS:
            continue
        if name == "reason":
            value = "coalesce(nullif(excluded.reason, ''), orders.reason)"
        elif name == "created_ms":
            value = "coalesce(nullif(orders.created_ms, 0), excluded.created_ms)"
        else:
            value = f"excluded.{name}"
        sets.append(f"{name} = {value}")
    final = ", ".join(f"'{status}'" for status in _TERMINAL)
    # identifiers and status literals come from the models and the OrderStatus enum
    return (
        f"INSERT INTO orders ({', '.join(cols)}) VALUES ({_placeholders(len(cols), style)}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(ORDER_KEYS)}) DO UPDATE SET {', '.join(sets)} "
        f"WHERE orders.status NOT IN ({final})"
    )


def fill_insert_sql(style: str) -> str:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``fills``, as ``FillRepository.add``."""
    cols = [c.name for c in FillRow.__table__.columns]
    # identifiers come from the model
    return (
        f"INSERT INTO fills ({', '.join(cols)}) VALUES ({_placeholders(len(cols), style)}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(FILL_KEYS)}) DO NOTHING RETURNING trade_id"
    )


# --------------------------------------------------------------------------- binding
def _exact_decimal_sqlite(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("ExactDecimal refuses floats; pass a Decimal or a str")
    return format(canonical_decimal(Decimal(value)), "f")


def _exact_decimal_pg(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("ExactDecimal refuses floats; pass a Decimal or a str")
    return canonical_decimal(Decimal(value))


def _bool_sqlite(value: Any) -> int:
    return int(bool(value))


def _same(value: Any) -> Any:
    return value


class RowBinder:
    """Turn a repository column dictionary into positional parameters for one dialect.

    The encoding is ``ExactDecimal``'s (canonical decimal; text on SQLite) and SQLite's
    integer booleans, so the stored values equal what SQLAlchemy would have stored.
    """

    def __init__(self, table: sa.FromClause, dialect: str) -> None:
        sqlite = dialect == "sqlite"
        convs: list[tuple[str, Converter]] = []
        for column in table.columns:
            conv: Converter = _same
            if isinstance(column.type, ExactDecimal):
                conv = _exact_decimal_sqlite if sqlite else _exact_decimal_pg
            elif isinstance(column.type, sa.Boolean) and sqlite:
                conv = _bool_sqlite
            convs.append((column.name, conv))
        self._convs = tuple(convs)

    def __len__(self) -> int:
        return len(self._convs)

    def __call__(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """Return the parameters in column order (every column must be present)."""
        return tuple(conv(values[name]) for name, conv in self._convs)


# --------------------------------------------------------------------------- SQLite
class SqliteJournal:
    """Order journal on a dedicated ``aiosqlite`` connection (autocommit, WAL)."""

    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SQLITE_SYNCHRONOUS}")
        self.path = path
        self.synchronous = synchronous
        self._conn: aiosqlite.Connection | None = None
        self._order_sql = order_upsert_sql("qmark")
        self._fill_sql = fill_insert_sql("qmark")
        self._bind_order = RowBinder(OrderRow.__table__, "sqlite")
        self._bind_fill = RowBinder(FillRow.__table__, "sqlite")

    def __repr__(self) -> str:
        return f"SqliteJournal(synchronous={self.synchronous})"

    async def open(self) -> None:
        """Connect and set WAL, the busy timeout and the ``synchronous`` level."""
        if self._conn is not None:
            return
        conn = await aiosqlite.connect(
            self.path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        )
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            await conn.execute(f"PRAGMA synchronous={self.synchronous}")
            # no checkpoint on the order path: the commit that crosses the WAL threshold
            # runs it (1-5 ms). The daemon's other writes (engine state every monitor tick,
            # positions, equity) go through SQLAlchemy connections, which keep SQLite's
            # default auto-checkpoint and so keep the WAL short.
            await conn.execute("PRAGMA wal_autocheckpoint=0")
            # compile both statements now: a missing table fails at start-up, not mid-order
            for sql, binder in (
                (self._order_sql, self._bind_order),
                (self._fill_sql, self._bind_fill),
            ):
                await conn.execute_fetchall(f"EXPLAIN {sql}", (None,) * len(binder))
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("SqliteJournal used before open() or after close()")
        return self._conn

    async def record_order(self, engine: str, order: Order, reason: str = "") -> None:
        """Upsert ``order``; committed when this returns."""
        params = self._bind_order(order_values(engine, order, reason))
        # execute_fetchall: statement and cursor stay on the driver thread, one hop
        await self._connection().execute_fetchall(self._order_sql, params)

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        """Insert ``fill`` unless stored; committed when this returns."""
        params = self._bind_fill(fill_values(engine, fill))
        rows = await self._connection().execute_fetchall(self._fill_sql, params)
        return len(list(rows)) > 0

    async def close(self) -> None:
        """Close the connection (a no-op when not open)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


# --------------------------------------------------------------------------- PostgreSQL
class PostgresJournal:
    """Order journal on a dedicated ``asyncpg`` connection with prepared statements.

    One connection serves one statement at a time, so writes are serialised by a lock
    (each is a single round trip). A write that fails raises and drops the connection, so
    the next write starts on a new one with freshly prepared statements (a server
    restart, or a migration that invalidated the plans, costs one failed write).
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._closed = False
        self._statements: dict[str, Any] = {}  # "order"/"fill" -> asyncpg PreparedStatement
        self._lock = asyncio.Lock()
        self._bind_order = RowBinder(OrderRow.__table__, "postgresql")
        self._bind_fill = RowBinder(FillRow.__table__, "postgresql")

    def __repr__(self) -> str:
        return "PostgresJournal(asyncpg, prepared)"

    async def open(self) -> None:
        """Connect and prepare the two statements (fails if the schema is missing)."""
        async with self._lock:
            await self._ensure()

    async def _ensure(self) -> None:
        if self._closed:
            raise RuntimeError("PostgresJournal used after close()")
        if self._conn is not None and not self._conn.is_closed():
            return
        conn = await asyncpg.connect(self._dsn, timeout=PG_CONNECT_TIMEOUT_SECONDS)
        try:
            self._statements = {
                "order": await conn.prepare(order_upsert_sql("numeric")),
                "fill": await conn.prepare(fill_insert_sql("numeric")),
            }
            # asyncpg's prepare leaves the implicit transaction open (no Sync), holding
            # locks on orders and fills that would block DDL until the first write
            await conn.execute("SELECT 1")
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _write(self, statement: str, params: tuple[Any, ...]) -> Any:
        async with self._lock:
            await self._ensure()
            try:
                return await self._statements[statement].fetchval(*params)
            except BaseException:
                conn, self._conn = self._conn, None
                if conn is not None:
                    conn.terminate()
                raise

    async def record_order(self, engine: str, order: Order, reason: str = "") -> None:
        """Upsert ``order``; committed when this returns."""
        await self._write("order", self._bind_order(order_values(engine, order, reason)))

    async def record_fill(self, engine: str, fill: Fill) -> bool:
        """Insert ``fill`` unless stored; committed when this returns."""
        return await self._write("fill", self._bind_fill(fill_values(engine, fill))) is not None

    async def close(self) -> None:
        """Close the connection; later writes raise."""
        async with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()


# --------------------------------------------------------------------------- factory
def _sqlite_path(url: str) -> str | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def open_journal(url: str, *, sqlite_synchronous: str = "NORMAL") -> OrderJournal | None:
    """Open the fast journal for a ``Database`` URL, after the schema is migrated.

    Returns ``None`` where no second connection can share the data (in-memory SQLite):
    the caller then journals through the repositories.
    """
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path is None:
            return None
        sqlite_journal = SqliteJournal(path, sqlite_synchronous)
        await sqlite_journal.open()
        return sqlite_journal
    if backend == "postgresql":
        pg_journal = PostgresJournal(_asyncpg_dsn(url))
        await pg_journal.open()
        return pg_journal
    raise NotImplementedError(f"no order journal for backend {backend!r}")

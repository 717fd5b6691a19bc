"""The order journal's fast path against real SQLite and PostgreSQL.

``SqliteJournal``/``PostgresJournal`` must store exactly what ``OrderRepository.upsert``
and ``FillRepository.add`` store (every reader uses the repositories), raise when the
write fails (the OMS then sends nothing), and share the database with the SQLAlchemy
side without "database is locked".
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from kinetic.domain import (
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
)
from kinetic.execution.oms import OrderManager
from kinetic.storage import Database, Repositories, read_status
from kinetic.storage.journal import OrderJournal, SqliteJournal, open_journal
from kinetic.storage.recorder import DbRecorder
from kinetic.storage.types import canonical_decimal
from tests.unit.execution.flaky_venue import AutoClock, FlakyVenue, make_sim_spot

D = Decimal
EXACT = [
    D("0.000000012345678901"),
    D("123456789.123456789"),
    D("-42.000000000000000001"),
    D("0.1"),
    D("7"),
    D("1.00000000000000000050"),  # 20 places: rounded half-even to 18, as ExactDecimal
]
QTY = D("0.015")
FILL_QTY = D("0.01")


def order(
    cid: str,
    status: OrderStatus = OrderStatus.PENDING,
    quantity: Decimal = QTY,
    created_ms: int = 1_000,
) -> Order:
    return Order(
        client_order_id=cid,
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=quantity,
        status=status,
        price=D("65000.5"),
        stop_price=None,
        reduce_only=True,
        created_ms=created_ms,
        updated_ms=created_ms,
    )


def fill(trade_id: str, symbol: str = "BTCUSDT", quantity: Decimal = FILL_QTY) -> Fill:
    return Fill(
        trade_id=trade_id,
        client_order_id="cid-1",
        symbol=symbol,
        side=Side.SELL,
        quantity=quantity,
        price=D("65000.5"),
        fee=D("0.00000975"),
        fee_asset="BNB",
        ts_ms=2_000,
        is_maker=True,
    )


@pytest.fixture
async def journal(migrated_db: Database) -> AsyncIterator[OrderJournal]:
    opened = await open_journal(migrated_db.url)
    assert opened is not None
    yield opened
    await opened.close()


async def raw_rows(db: Database, table: str, key: str) -> dict[str, dict[str, Any]]:
    """Rows as the driver returns them (no ORM decoding), by ``key`` column."""
    async with db.engine.connect() as conn:
        result = await conn.execute(sa.text(f"SELECT * FROM {table}"))
        return {str(row[key]): dict(row) for row in result.mappings()}


def without(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in names}


# --- rows identical to the repositories' -------------------------------------------


async def test_record_order_when_journaled_then_stored_row_equals_repository_row(
    migrated_db: Database, repos: Repositories, journal: OrderJournal
) -> None:
    for i, value in enumerate(EXACT):
        await repos.orders.upsert("spot", order(f"r-{i}", quantity=value), "entry")
        await journal.record_order("spot", order(f"j-{i}", quantity=value), "entry")

    rows = await raw_rows(migrated_db, "orders", "client_order_id")
    for i, value in enumerate(EXACT):
        assert without(rows[f"j-{i}"], "client_order_id") == without(
            rows[f"r-{i}"], "client_order_id"
        )
        read = await repos.orders.get(f"j-{i}")
        assert read is not None
        assert read.quantity == canonical_decimal(value)
        assert str(read.quantity) == str((await repos.orders.get(f"r-{i}")).quantity)  # type: ignore[union-attr]
        assert read == dataclasses.replace(order(f"j-{i}"), quantity=canonical_decimal(value))


async def test_record_order_status_changes_follow_repository_upsert_rules(
    migrated_db: Database, repos: Repositories, journal: OrderJournal
) -> None:
    steps: list[tuple[dict[str, Any], str]] = [
        ({}, "entry: breakout"),
        ({"status": OrderStatus.NEW, "venue_order_id": "v-1", "created_ms": 5_000}, ""),
        (
            {
                "status": OrderStatus.PARTIALLY_FILLED,
                "filled_qty": EXACT[0],
                "avg_price": EXACT[1],
                "updated_ms": 6_000,
            },
            "partial",
        ),
        ({"status": OrderStatus.FILLED, "filled_qty": D("0.015"), "updated_ms": 7_000}, ""),
        ({"status": OrderStatus.NEW, "updated_ms": 8_000}, "late: must not resurrect"),
    ]
    current = {"r": order("r-1"), "j": order("j-1")}
    for changes, reason in steps:
        current = {k: dataclasses.replace(o, **changes) for k, o in current.items()}
        await repos.orders.upsert("spot", current["r"], reason)
        await journal.record_order("spot", current["j"], reason)
        rows = await raw_rows(migrated_db, "orders", "client_order_id")
        assert without(rows["j-1"], "client_order_id") == without(rows["r-1"], "client_order_id")

    stored = await repos.orders.get("j-1")
    assert stored is not None
    assert stored.status is OrderStatus.FILLED
    assert stored.created_ms == 1_000
    assert stored.avg_price == EXACT[1]
    assert rows["j-1"]["reason"] == "partial"


async def test_record_order_when_first_written_without_created_ms_then_later_value_kept(
    repos: Repositories, journal: OrderJournal
) -> None:
    await journal.record_order("spot", order("c", created_ms=0), "entry")
    await journal.record_order("spot", order("c", OrderStatus.NEW, created_ms=9_000))
    stored = await repos.orders.get("c")
    assert stored is not None
    assert (stored.created_ms, stored.status) == (9_000, OrderStatus.NEW)
    assert [o.client_order_id for o in await repos.orders.list_open("spot")] == ["c"]


async def test_record_fill_dedups_by_engine_symbol_trade_id_like_repository(
    migrated_db: Database, repos: Repositories, journal: OrderJournal
) -> None:
    assert await journal.record_fill("spot", fill("t-1")) is True
    assert await journal.record_fill("spot", fill("t-1")) is False
    assert await journal.record_fill("spot", fill("t-1", symbol="ETHUSDT")) is True
    assert await journal.record_fill("futures", fill("t-1")) is True
    # the two writers see each other's rows
    assert await repos.fills.add("spot", fill("t-1")) is False
    assert await repos.fills.add("spot", fill("t-2")) is True
    assert await journal.record_fill("spot", fill("t-2")) is False

    for i, value in enumerate(EXACT):
        await repos.fills.add("cmp", fill(f"r-{i}", quantity=value))
        await journal.record_fill("cmp", fill(f"j-{i}", quantity=value))
    rows = await raw_rows(migrated_db, "fills", "trade_id")
    for i in range(len(EXACT)):
        assert without(rows[f"j-{i}"], "trade_id") == without(rows[f"r-{i}"], "trade_id")
    keys = sorted((f.symbol, f.trade_id) for f in await repos.fills.list("spot"))
    assert keys == [("BTCUSDT", "t-1"), ("BTCUSDT", "t-2"), ("ETHUSDT", "t-1")]
    assert await repos.fills.count("spot") == 3
    stored = [f for f in await repos.fills.list("cmp") if f.trade_id.startswith("j-")]
    assert [f.quantity for f in stored] == [canonical_decimal(v) for v in EXACT]
    assert stored[0] == dataclasses.replace(fill("j-0"), quantity=EXACT[0])


# --- failures raise, and the OMS sends nothing --------------------------------------


async def test_open_journal_when_schema_missing_then_raises(empty_db: Database) -> None:
    with pytest.raises(Exception, match=r"(?i)orders"):
        await open_journal(empty_db.url)


async def test_open_journal_when_sqlite_in_memory_then_none() -> None:
    assert await open_journal("sqlite+aiosqlite:///:memory:") is None


async def test_sqlite_journal_refuses_unknown_synchronous_level() -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteJournal("/nonexistent.db", "OFF")


async def test_record_order_when_write_fails_then_raises(
    migrated_db: Database, journal: OrderJournal
) -> None:
    await journal.record_order("spot", order("ok"))
    async with migrated_db.engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE orders"))
        await conn.execute(sa.text("DROP TABLE fills"))
    with pytest.raises(Exception, match=r"(?i)orders|relation|cache"):
        await journal.record_order("spot", order("lost"))
    with pytest.raises(Exception, match=r"(?i)fills|relation|cache"):
        await journal.record_fill("spot", fill("t-lost"))


async def test_record_order_after_close_raises(journal: OrderJournal) -> None:
    await journal.close()
    with pytest.raises(Exception):  # noqa: B017 - the backend's own error
        await journal.record_order("spot", order("late"))


class DbSpyVenue(FlakyVenue):
    """Note what a separate reader (the repositories) sees at the moment of sending."""

    def __init__(self, inner: Any, repos: Repositories) -> None:
        super().__init__(inner)
        self.repos = repos
        self.seen_at_send: dict[str, OrderStatus | None] = {}

    async def place_order(self, intent: OrderIntent) -> Order:
        row = await self.repos.orders.get(intent.client_order_id)
        self.seen_at_send[intent.client_order_id] = None if row is None else row.status
        return await super().place_order(intent)


def market_buy(cid: str) -> OrderIntent:
    return OrderIntent("spot", "BTCUSDT", Side.BUY, OrderType.MARKET, D("1"), cid, reason="entry")


async def test_oms_submit_with_journal_commits_pending_row_before_send(
    repos: Repositories, journal: OrderJournal
) -> None:
    clock = AutoClock()
    venue = DbSpyVenue(make_sim_spot(clock), repos)
    oms = OrderManager("spot", venue, DbRecorder(repos, journal), clock)  # type: ignore[arg-type]
    placed = await oms.submit(market_buy("cid-fast-1"))
    assert venue.seen_at_send == {"cid-fast-1": OrderStatus.PENDING}
    stored = await repos.orders.get("cid-fast-1")
    assert stored is not None
    assert stored.status is placed.status is OrderStatus.FILLED
    assert (await repos.orders.count()) == 1


async def test_oms_submit_when_journal_write_fails_then_raises_and_nothing_sent(
    migrated_db: Database, repos: Repositories, journal: OrderJournal
) -> None:
    clock = AutoClock()
    venue = FlakyVenue(make_sim_spot(clock))
    oms = OrderManager("spot", venue, DbRecorder(repos, journal), clock)  # type: ignore[arg-type]
    async with migrated_db.engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE orders"))
    with pytest.raises(Exception):  # noqa: B017 - the OMS's or the backend's error
        await oms.submit(market_buy("cid-never-sent"))
    assert venue.place_calls == []


# --- sharing the database with the SQLAlchemy side ----------------------------------


def position(symbol: str) -> Position:
    return Position(
        symbol=symbol,
        side=PositionSide.LONG,
        quantity=D("0.5"),
        entry_price=D("100"),
        opened_ms=3_000,
        stop_price=D("90"),
    )


async def test_journal_and_repositories_concurrently_never_lock_each_other_out(
    migrated_db: Database, repos: Repositories, journal: OrderJournal
) -> None:
    recorder = DbRecorder(repos, journal)
    rounds = 60

    async def trader(engine: str) -> None:
        for i in range(rounds):
            o = order(f"{engine}-{i}")
            await recorder.record_order(engine, o, "entry")
            o.status = OrderStatus.FILLED
            await recorder.record_order(engine, o)
            assert await recorder.record_fill(engine, fill(f"{engine}-t{i}")) is True
            await recorder.record_position(engine, position(f"S{i % 3}USDT"))

    async def supervisor() -> None:
        for i in range(rounds):
            await recorder.save_engine_state("spot", status="running", fills=i)
            await recorder.record_event("tick", f"round {i}", "spot", {"i": i})
            await recorder.save_portfolio_state(peak_equity=D(1000 + i))

    async def reader() -> None:
        for _ in range(rounds):
            await read_status(migrated_db)
            await recorder.open_orders("spot")
            await repos.fills.count("futures")

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(trader("spot"))
        tasks.create_task(trader("futures"))
        tasks.create_task(supervisor())
        tasks.create_task(reader())

    for engine in ("spot", "futures"):
        assert await repos.orders.count(engine) == rounds
        assert await repos.fills.count(engine) == rounds
        assert await recorder.open_orders(engine) == []
    status = await read_status(migrated_db)
    assert status is not None


async def test_postgres_journal_when_connection_killed_then_next_write_reconnects(
    backend: str, migrated_db: Database, repos: Repositories, journal: OrderJournal
) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL connection handling")
    await journal.record_order("spot", order("before"))
    dsn = migrated_db.url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    await migrated_db.engine.dispose()  # the SQLAlchemy pool lost its connections too
    # a write that finds the connection dead raises (never assumed stored) and drops it;
    # the server's termination can reach asyncpg a moment late, so up to two writes may
    # meet the old connection (asyncpg's InternalClientError "another operation is in
    # progress", not an InterfaceError) before one
    # reconnects: the engine stays REDUCE_ONLY meanwhile and the next write succeeds
    failed = 0
    for attempt in range(3):
        try:
            await journal.record_order("spot", order(f"after-{attempt}"))
            break
        except Exception:  # asyncpg raises several kinds here; the OMS catches them all
            failed += 1
    assert failed < 3
    assert await repos.orders.get(f"after-{failed}") is not None

"""Storage layer against real SQLite and PostgreSQL (see conftest for fixtures)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from kinetic.cli_status import render_status
from kinetic.clock import ManualClock
from kinetic.domain import (
    ClosedTrade,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
)
from kinetic.storage import (
    Database,
    Repositories,
    SchemaNotInitializedError,
    SchemaTooNewError,
    read_status,
    resolve_database_url,
    safe_url,
)
from kinetic.storage.db import head_revision

TABLES = {
    "orders",
    "fills",
    "positions",
    "trades",
    "equity_snapshots",
    "events",
    "engine_state",
    "portfolio_state",
    "installation",
    "trading_states",
    "operator_commands",
}
TINY = Decimal("0.000000012345678901")
LARGE = Decimal("123456789.123456789")
EXACT_VALUES = [TINY, LARGE, Decimal("-42.000000000000000001"), Decimal("0.1"), Decimal(7)]


def make_order(status: OrderStatus = OrderStatus.PENDING, cid: str = "cid-1") -> Order:
    return Order(
        client_order_id=cid,
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("0.015"),
        status=status,
        price=Decimal("65000.5"),
        created_ms=1_000,
        updated_ms=1_000,
    )


def make_fill(trade_id: str = "t-1", quantity: Decimal = Decimal("0.01")) -> Fill:
    return Fill(
        trade_id=trade_id,
        client_order_id="cid-1",
        symbol="BTCUSDT",
        side=Side.BUY,
        quantity=quantity,
        price=Decimal("65000.5"),
        fee=Decimal("0.00000975"),
        fee_asset="BNB",
        ts_ms=2_000,
        is_maker=True,
    )


def make_position(symbol: str = "BTCUSDT", quantity: Decimal = Decimal("0.01")) -> Position:
    return Position(
        symbol=symbol,
        side=PositionSide.LONG,
        quantity=quantity,
        entry_price=Decimal("65000.5"),
        opened_ms=3_000,
        stop_price=Decimal("64000"),
        take_profit=Decimal("67000"),
        leverage=3,
        fees=Decimal("0.01"),
        best_price=Decimal("65100"),
    )


def make_trade(engine: str = "spot", pnl: Decimal = Decimal("12.5")) -> ClosedTrade:
    return ClosedTrade(
        engine=engine,
        symbol="ETHUSDT",
        side=PositionSide.SHORT,
        quantity=Decimal("1.5"),
        entry_price=Decimal("3000"),
        exit_price=Decimal("2990"),
        opened_ms=1_000,
        closed_ms=5_000,
        pnl=pnl,
        fees=Decimal("2.5"),
        exit_reason="take_profit",
        leverage=2,
    )


# --- migrations -------------------------------------------------------------------


async def test_migrate_when_database_empty_then_creates_every_table(empty_db: Database) -> None:
    assert await empty_db.schema_version() is None
    with pytest.raises(SchemaNotInitializedError):
        await empty_db.check_schema()

    assert await empty_db.migrate() == head_revision()

    async with empty_db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert tables >= TABLES | {"alembic_version"}
    assert await empty_db.schema_version() == head_revision()
    assert await empty_db.check_schema() == head_revision()


async def test_migrate_when_already_at_head_then_noop_and_data_kept(
    migrated_db: Database, repos: Repositories
) -> None:
    await repos.orders.upsert("spot", make_order())

    assert await migrated_db.migrate() == head_revision()

    assert await migrated_db.schema_version() == head_revision()
    assert await repos.orders.get("cid-1") is not None


async def test_schema_when_revision_unknown_then_too_new_error(migrated_db: Database) -> None:
    async with migrated_db.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))

    with pytest.raises(SchemaTooNewError, match="9999_future"):
        await migrated_db.check_schema()
    with pytest.raises(SchemaTooNewError):
        await migrated_db.migrate()
    assert await migrated_db.schema_version() == "9999_future"


# --- exact decimals ---------------------------------------------------------------


async def test_decimal_when_stored_then_round_trips_exactly(repos: Repositories) -> None:
    for i, value in enumerate(EXACT_VALUES):
        await repos.positions.upsert("futures", make_position(f"S{i}USDT", quantity=value))
        await repos.fills.add("futures", make_fill(f"t-{i}", quantity=value))

    positions = await repos.positions.list("futures")
    fills = await repos.fills.list("futures")
    for value, position, fill in zip(EXACT_VALUES, positions, fills, strict=True):
        assert position.quantity == value
        assert str(position.quantity) == str(value)
        assert fill.quantity == value
        assert isinstance(fill.quantity, Decimal)


async def test_decimal_when_summed_then_no_float_drift(repos: Repositories) -> None:
    for _ in range(10):
        await repos.trades.add(make_trade(pnl=Decimal("0.1")))
    await repos.trades.add(make_trade(pnl=TINY))

    assert await repos.trades.realized_pnl("spot") == Decimal("1.0") + TINY


# --- orders and fills -------------------------------------------------------------


async def test_order_upsert_when_status_advances_then_journal_follows(
    repos: Repositories,
) -> None:
    order = make_order()
    await repos.orders.upsert("spot", order, reason="entry: breakout")
    assert [o.client_order_id for o in await repos.orders.list_open("spot")] == ["cid-1"]

    order.status, order.venue_order_id, order.updated_ms = OrderStatus.NEW, "v-9", 1_100
    await repos.orders.upsert("spot", order)
    order.status, order.filled_qty, order.avg_price = (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.005"),
        Decimal("65000.5"),
    )
    await repos.orders.upsert("spot", order)
    assert (await repos.orders.get("cid-1")) == order

    order.status, order.filled_qty = OrderStatus.FILLED, Decimal("0.015")
    await repos.orders.upsert("spot", order)
    stored = await repos.orders.get("cid-1")
    assert stored == order
    assert await repos.orders.list_open("spot") == []
    assert await repos.orders.count_by_status() == {"FILLED": 1}


async def test_order_list_open_when_mixed_statuses_then_only_non_terminal(
    repos: Repositories,
) -> None:
    for i, status in enumerate(OrderStatus):
        await repos.orders.upsert("spot", make_order(status, cid=f"c{i}"))
    await repos.orders.upsert("futures", make_order(OrderStatus.NEW, cid="other"))

    open_statuses = {o.status for o in await repos.orders.list_open("spot")}

    assert open_statuses == {s for s in OrderStatus if not s.is_terminal}
    assert await repos.orders.get("missing") is None
    assert sum((await repos.orders.count_by_status()).values()) == len(OrderStatus) + 1
    assert await repos.orders.count("spot") == len(OrderStatus)
    assert await repos.orders.count() == len(OrderStatus) + 1


async def test_fill_add_when_trade_id_repeats_then_stored_once(repos: Repositories) -> None:
    assert await repos.fills.add("spot", make_fill("t-1")) is True
    assert await repos.fills.add("spot", make_fill("t-1")) is False
    assert await repos.fills.add("futures", make_fill("t-1")) is True
    assert await repos.fills.add("spot", make_fill("t-2")) is True

    assert await repos.fills.count("spot") == 2
    assert await repos.fills.list("spot") == [make_fill("t-1"), make_fill("t-2")]


# --- positions, trades, equity ----------------------------------------------------


async def test_fill_add_when_same_trade_id_on_two_symbols_then_both_stored(
    repos: Repositories,
) -> None:
    btc = make_fill("7")
    eth = dataclasses.replace(btc, symbol="ETHUSDT")  # Binance numbers trades per symbol
    assert await repos.fills.add("futures", btc) is True
    assert await repos.fills.add("futures", eth) is True
    assert await repos.fills.add("futures", eth) is False
    assert {f.symbol for f in await repos.fills.list("futures")} == {"BTCUSDT", "ETHUSDT"}


async def test_installation_when_two_values_offered_then_first_one_kept(
    repos: Repositories,
) -> None:
    assert await repos.installation.get("instance_id") is None
    assert await repos.installation.get_or_create("instance_id", "abc12") == "abc12"
    assert await repos.installation.get_or_create("instance_id", "zzz99") == "abc12"
    await repos.installation.put("id_stamp:spot", "41")
    assert await repos.installation.get("id_stamp:spot") == "41"


async def test_trading_states_when_saved_then_loaded_by_scope(repos: Repositories) -> None:
    await repos.trading_states.save("daemon", "HALTED", "kill switch: test", "operator", 5)
    await repos.trading_states.save("futures", "REDUCE_ONLY", "journal unwritable", "journal")
    await repos.trading_states.save("daemon", "ACTIVE", "cleared", "operator", 9)
    states = await repos.trading_states.load_all()
    assert states["daemon"]["state"] == "ACTIVE"
    assert states["daemon"]["since_ms"] == 9
    assert states["futures"]["cause"] == "journal unwritable"


async def test_commands_when_queued_and_finished_then_pending_follows(
    repos: Repositories,
) -> None:
    first = await repos.commands.add("killswitch", {"active": True, "reason": "test"})
    second = await repos.commands.add("flatten")
    assert [c.id for c in await repos.commands.pending()] == [first, second]
    await repos.commands.finish(first, "done", "halted")
    assert [c.id for c in await repos.commands.pending()] == [second]
    done = await repos.commands.get(first)
    assert done is not None
    assert (done.status, done.result) == ("done", "halted")
    assert done.args == {"active": True, "reason": "test"}


async def test_positions_when_upserted_and_deleted_then_listing_follows(
    repos: Repositories,
) -> None:
    await repos.positions.upsert("futures", make_position("BTCUSDT"))
    await repos.positions.upsert("futures", make_position("ETHUSDT"))
    moved = make_position("BTCUSDT")
    moved.stop_price, moved.trailing_active = Decimal("65050.25"), True
    await repos.positions.upsert("futures", moved)
    await repos.positions.upsert("spot", make_position("SOLUSDT"))

    assert await repos.positions.list("futures") == [moved, make_position("ETHUSDT")]

    await repos.positions.delete("futures", "ETHUSDT")
    await repos.positions.delete("futures", "NOPE")
    assert await repos.positions.list_all() == {
        "futures": [moved],
        "spot": [make_position("SOLUSDT")],
    }


async def test_trades_when_added_then_listed_per_engine(repos: Repositories) -> None:
    await repos.trades.add(make_trade("spot", Decimal("10")))
    await repos.trades.add(make_trade("futures", Decimal("-3.25")))

    assert await repos.trades.list("futures") == [make_trade("futures", Decimal("-3.25"))]
    assert len(await repos.trades.list()) == 2
    assert await repos.trades.realized_pnl("futures") == Decimal("-3.25")
    assert await repos.trades.realized_pnl("nobody") == Decimal(0)


async def test_equity_when_sampled_then_latest_and_count(repos: Repositories) -> None:
    assert await repos.equity.latest("spot") is None
    for ts in (1_000, 3_000, 2_000):
        equity = Decimal(ts) + TINY
        await repos.equity.add("spot", ts, equity, LARGE, Decimal(1), Decimal(-1), Decimal(0))

    latest = await repos.equity.latest("spot")

    assert latest is not None
    assert (latest.ts_ms, latest.equity, latest.cash) == (3_000, Decimal(3_000) + TINY, LARGE)
    assert await repos.equity.count("spot") == 3


# --- events and state -------------------------------------------------------------


async def test_events_when_data_has_secrets_then_dropped(
    repos: Repositories, clock: ManualClock
) -> None:
    data = {
        "api_key": "AKIA",
        "Secret": "s",
        "nested": {"accessToken": "t", "db_password": "p", "symbol": "BTCUSDT"},
        "amount": Decimal("1.5"),
    }
    await repos.events.add("config_change", "reloaded", data=data)
    await repos.events.add("circuit_breaker", "tripped", engine="futures", ts_ms=5)

    events = await repos.events.list()
    assert [e.kind for e in events] == ["config_change", "circuit_breaker"]
    assert events[0].data == {"nested": {"symbol": "BTCUSDT"}, "amount": "1.5"}
    assert events[0].ts_ms == clock.time_ms()
    breaker = await repos.events.list("circuit_breaker")
    assert [(e.engine, e.message, e.ts_ms) for e in breaker] == [("futures", "tripped", 5)]
    assert len(await repos.events.list(limit=1)) == 1


async def test_engine_state_when_upserted_partially_then_other_fields_kept(
    repos: Repositories,
) -> None:
    await repos.engine_state.upsert("spot", status="running", equity=LARGE, allocated_pct=0.4)
    await repos.engine_state.upsert("spot", restart_count=2, last_error="boom")

    [state] = await repos.engine_state.get_all()
    assert (state["engine"], state["status"], state["equity"]) == ("spot", "running", LARGE)
    assert (state["restart_count"], state["last_error"]) == (2, "boom")
    with pytest.raises(ValueError, match="bogus"):
        await repos.engine_state.upsert("spot", bogus=1)


async def test_portfolio_state_when_saved_then_loaded(repos: Repositories) -> None:
    assert await repos.portfolio_state.load() is None
    await repos.portfolio_state.save(peak_equity=LARGE, day="2024-06-01")
    await repos.portfolio_state.save(circuit_breaker_active=True, circuit_breaker_until=99.5)

    state = await repos.portfolio_state.load()

    assert state is not None
    assert state["peak_equity"] == LARGE
    assert (state["day"], state["circuit_breaker_active"]) == ("2024-06-01", True)
    assert state["circuit_breaker_until"] == 99.5


async def test_read_status_when_engines_recorded_then_combined_shape(
    migrated_db: Database, repos: Repositories
) -> None:
    hb = 1_700_000_000.0
    await repos.engine_state.upsert("spot", status="running", last_heartbeat=hb, allocated_pct=0.4)
    await repos.engine_state.upsert("futures", status="error", last_error="boom", equity=LARGE)
    await repos.fills.add("spot", make_fill("t-1"))
    await repos.fills.add("spot", make_fill("t-2"))
    await repos.positions.upsert("futures", make_position())
    await repos.portfolio_state.save(total_value=Decimal("1000.5"), total_pnl=Decimal("-2"))

    status = await read_status(migrated_db)

    assert set(status) >= {
        "engines",
        "total_value_usd",
        "total_pnl_usd",
        "circuit_breaker_active",
        "circuit_breaker_until",
        "positions",
        "allocation",
        "updated_at",
    }
    spot = status["engines"]["spot"]
    assert spot == {
        "status": "running",
        "last_heartbeat": "2023-11-14T22:13:20+00:00",
        "restart_count": 0,
        "fills": 2,
        "open_positions": 0,
        "equity_usd": 0.0,
        "pnl_usd": 0.0,
        "last_error": None,
        "trading_state": {"state": "ACTIVE", "cause": "", "source": "", "since": None,
                          "effective": "ACTIVE"},
        "drift": {"drifting": False, "since": None, "differences": []},
    }  # fmt: skip
    assert status["engines"]["futures"]["open_positions"] == 1
    assert status["engines"]["futures"]["last_error"] == "boom"
    assert (status["total_value_usd"], status["total_pnl_usd"]) == (1000.5, -2.0)
    assert status["circuit_breaker_active"] is False
    assert [p["symbol"] for p in status["positions"]] == ["BTCUSDT"]
    assert status["allocation"]["spot"] == 0.4
    assert status["updated_at"] is not None


async def test_read_status_shows_the_latest_drift_verdict_per_engine(
    migrated_db: Database, repos: Repositories
) -> None:
    await repos.engine_state.upsert("futures", status="running")
    await repos.engine_state.upsert("spot", status="running")
    await repos.events.add("drift", "cash: books 1, venue 2", "futures",
                           {"differences": ["cash: books 1, venue 2"]}, ts_ms=1_000)  # fmt: skip
    await repos.events.add("drift", "order", "spot", {"differences": ["order x"]}, ts_ms=1_000)
    await repos.events.add("drift_resolved", "books match", "spot", ts_ms=2_000)
    engines = (await read_status(migrated_db))["engines"]
    assert engines["futures"]["drift"]["drifting"] is True
    assert engines["futures"]["drift"]["differences"] == ["cash: books 1, venue 2"]
    from kinetic.cli_status import render_status

    assert "DRIFT since 1970-01-01T00:00:01+00:00: cash: books 1, venue 2" in render_status(
        await read_status(migrated_db)
    )
    assert engines["spot"]["drift"] == {
        "drifting": False,
        "since": "1970-01-01T00:00:02+00:00",
        "differences": [],
    }


async def test_read_status_shows_trading_states_by_name_with_cause(
    migrated_db: Database, repos: Repositories
) -> None:
    await repos.engine_state.upsert("spot", status="running")
    await repos.trading_states.save("daemon", "REDUCE_ONLY", "drawdown: 16% > 15%", "risk_monitor")
    await repos.trading_states.save("futures", "HALTED", "restart budget exhausted", "supervisor")

    status = await read_status(migrated_db)

    assert status["trading_state"]["state"] == "REDUCE_ONLY"
    assert status["trading_state"]["cause"] == "drawdown: 16% > 15%"
    spot, futures = status["engines"]["spot"], status["engines"]["futures"]
    assert (spot["trading_state"]["state"], spot["trading_state"]["effective"]) == (
        "ACTIVE",
        "REDUCE_ONLY",
    )
    assert futures["trading_state"]["effective"] == "HALTED"
    assert futures["trading_state"]["source"] == "supervisor"
    text = render_status(status)
    assert "trading state: REDUCE_ONLY (drawdown: 16% > 15%; by risk_monitor" in text
    assert "trading state: HALTED (restart budget exhausted; by supervisor" in text


async def test_read_status_when_database_empty_then_zeros(migrated_db: Database) -> None:
    status = await read_status(migrated_db)

    assert status["engines"] == {}
    assert status["total_value_usd"] == 0.0
    assert status["updated_at"] is None


# --- URLs and SQLite settings -----------------------------------------------------


def test_safe_url_when_password_present_then_masked() -> None:
    url = "postgresql+asyncpg://kinetic:hunter2@db.example:5432/kinetic"

    masked = safe_url(url)

    assert "hunter2" not in masked
    assert masked == "postgresql+asyncpg://kinetic:***@db.example:5432/kinetic"
    assert "hunter2" not in repr(Database(url))
    assert "hunter2" not in safe_url("not a url://user:hunter2@host/db")
    assert safe_url("sqlite+aiosqlite:////tmp/k.db") == "sqlite+aiosqlite:////tmp/k.db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgres://u@h:5433/db", "postgresql+asyncpg://u@h:5433/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_resolve_database_url_when_postgres_then_asyncpg(given: str, expected: str) -> None:
    assert resolve_database_url(given, "ignored.db") == expected


def test_resolve_database_url_when_none_then_absolute_sqlite(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "kinetic.db"

    url = resolve_database_url(None, str(target))

    assert url == f"sqlite+aiosqlite:///{target.resolve()}"
    assert target.parent.is_dir()


async def test_sqlite_when_connected_then_wal_and_busy_timeout(tmp_path: Path) -> None:
    db = Database(resolve_database_url(None, str(tmp_path / "k.db")))
    await db.connect()
    try:
        async with db.engine.connect() as conn:
            mode = await conn.scalar(sa.text("PRAGMA journal_mode"))
            timeout = await conn.scalar(sa.text("PRAGMA busy_timeout"))
    finally:
        await db.close()
    assert (mode, timeout) == ("wal", 5000)

"""Start-up takeover end to end: the real Binance USD-M client against the in-process fake
Binance, the journal in a real database (SQLite and PostgreSQL).

One story: an entry is filled while the process dies inside ``place_order``; meanwhile
somebody opens a position by hand and an order of ours is left resting unjournaled (a
lost database), next to a foreign order. The next start applies the entry's fill and
protects it, adopts the hand-made position with a stop, cancels our orphan and leaves the
foreign order alone; a later close's realized PnL survives one more restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from kinetic.domain import (
    Fill,
    MarketType,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
)
from kinetic.engines.futures import FuturesEngine
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import EntryPlan
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.storage import Repositories
from kinetic.storage.recorder import DbRecorder
from kinetic.venues.binance import BinanceFuturesClient
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from kinetic.venues.http import HttpSettings, RetryPolicy
from tests.fake_venues.fast_clock import FastClock
from tests.unit.engines.kit import ScriptedStrategy, _deps

D = Decimal
ETH, BTC = "ETHUSDT", "BTCUSDT"


class Killed(BaseException):
    """The process died here."""


@pytest.fixture
async def venue(clock: Any) -> AsyncIterator[tuple[FakeBinance, BinanceFuturesClient, FastClock]]:
    fast = FastClock(clock.time())
    server = FakeBinance(futures=True, clock=fast)
    await server.start()
    client = BinanceFuturesClient(
        fast,
        api_key=API_KEY,
        api_secret=API_SECRET,
        base_url=server.url,
        settings=HttpSettings(timeout_seconds=5, retry=RetryPolicy(max_attempts=2)),
    )
    server.set_price(ETH, D(2000))
    server.set_price(BTC, D(50000))
    yield server, client, fast
    await client.close()
    await server.stop()


async def engine_on(client: BinanceFuturesClient, clock: FastClock, recorder: Any) -> FuturesEngine:
    """A new process: fresh engine, same venue account and journal."""
    from config import UnifiedConfig

    config = UnifiedConfig(futures_watchlist=[ETH, BTC])
    listed = await client.get_instruments()
    deps = _deps(
        config, "futures", MarketType.FUTURES, client, [ETH, BTC], clock, D(100000),
        RiskManager(RiskLimits(3, 50), lambda: True), ScriptedStrategy(), recorder, CandleStore(),
    )  # fmt: skip
    deps.instruments = {s: listed[s] for s in (ETH, BTC)}
    deps.extra["cash_from_venue"] = True
    return FuturesEngine(deps, SymbolBlacklist(0))


async def test_takeover_on_fake_binance_usdm_with_the_journal_in_the_database(
    repos: Repositories, venue: tuple[FakeBinance, BinanceFuturesClient, FastClock]
) -> None:
    server, client, clock = venue
    recorder = DbRecorder(repos)
    first = await engine_on(client, clock, recorder)
    await first.startup()

    # 1. the entry fills on the venue; the process dies before it learns the fill
    real = client.place_order

    async def place_then_die(intent: OrderIntent) -> Any:
        await real(intent)
        raise Killed

    client.place_order = place_then_die  # type: ignore[method-assign]
    plan = EntryPlan(PositionSide.LONG, D(1900), None, 5, 80, "entry")
    with pytest.raises(Killed):
        await first.send(ETH, Side.BUY, D("0.500"), reason="entry", plan=plan)
    del client.place_order
    # 2. while down: a position by hand, an order of ours never journaled, a foreign order
    by_hand = OrderIntent("x", BTC, Side.SELL, OrderType.MARKET, D("0.010"), "hand-1")
    await client.place_order(by_hand)
    orphan = f"{first.d.oms.ids.owner_prefix}zzzzzz0001"
    for cid in (orphan, "hand-limit"):
        await client.place_order(
            OrderIntent("x", ETH, Side.BUY, OrderType.LIMIT, D("0.100"), cid, price=D(1500))
        )

    second = await engine_on(client, clock, recorder)
    await second.startup()

    book = second.d.positions.positions
    assert (book[ETH].side, book[ETH].quantity) == (PositionSide.LONG, D("0.500"))
    assert (book[BTC].side, book[BTC].quantity) == (PositionSide.SHORT, D("0.010"))
    resting = await client.get_open_orders()
    stops = {o.symbol: o for o in resting if o.order_type is OrderType.STOP_MARKET}
    assert stops[ETH].quantity == D("0.500")
    assert stops[BTC].quantity == D("0.010")
    assert (await client.get_order(ETH, orphan)).status is OrderStatus.CANCELED
    assert (await client.get_order(ETH, "hand-limit")).status is OrderStatus.NEW
    rows = {p.symbol: p for p in await repos.positions.list("futures")}
    assert rows[ETH].quantity == D("0.500")
    assert rows[BTC].quantity == D("0.010")
    actions = {(e.data["symbol"], e.data["action"]) for e in await repos.events.list("takeover")}
    assert {(ETH, "fill_applied"), (BTC, "adopted"), (ETH, "orphan_cancelled")} <= actions
    assert (await repos.orders.get(orphan)).status is OrderStatus.CANCELED  # journal = venue

    # 3. a close, then one more restart: realized PnL comes back from the trades table
    server.set_price(ETH, D(2100))
    await second.close_position(ETH, "take profit")
    realized = second.d.positions.realized_pnl
    assert realized != 0
    third = await engine_on(client, clock, recorder)
    await third.startup()
    assert third.d.positions.realized_pnl == realized
    assert await recorder.fill_checkpoints("futures")  # both symbols have a checkpoint


def _order(cid: str, status: OrderStatus, qty: str, filled: str, ms: int) -> Order:
    return Order(
        cid, ETH, Side.BUY, OrderType.MARKET, D(qty), status, None, None, False, None,
        D(filled), D(0), ms, ms,
    )  # fmt: skip


def _fill(trade: str, cid: str, qty: str, ms: int) -> Fill:
    return Fill(trade, cid, ETH, Side.BUY, D(qty), D(2000), D(0), "USDT", ms, False, False)


async def test_unsettled_orders_from_the_database_count_the_journaled_fills(
    repos: Repositories,
) -> None:
    """What start-up reconciles: open orders, and orders the venue reported FILLED whose
    journaled fills fall short (a late trade, or a crash between fill row and order row)
    and were updated since the window; seen quantity = the journaled fills' total."""
    recorder = DbRecorder(repos)
    rows = [
        _order("open", OrderStatus.NEW, "1.0", "0", 1000),
        _order("lagging", OrderStatus.FILLED, "2.0", "0", 1000),  # row behind its fill
        _order("settled", OrderStatus.FILLED, "1.0", "1.0", 1000),
        _order("old", OrderStatus.FILLED, "1.0", "0", 10),  # before the window
        _order("gone", OrderStatus.CANCELED, "1.0", "0", 1000),
    ]
    for order in rows:
        await recorder.record_order("futures", order)
    for fill in (
        _fill("t1", "lagging", "0.5", 1000),
        _fill("t2", "lagging", "0.25", 1001),
        _fill("t3", "settled", "1.0", 1000),
    ):
        assert await recorder.record_fill("futures", fill)

    unsettled = {o.client_order_id: o for o in await recorder.unsettled_orders("futures", 500)}

    assert set(unsettled) == {"open", "lagging"}
    assert unsettled["lagging"].filled_qty == D("0.75")
    assert unsettled["open"].filled_qty == 0
    assert await recorder.unsettled_orders("other", 0) == []

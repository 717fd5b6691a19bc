"""Funding in live futures (issue 11 item 7): the venue's payments reach the books once.

The FuturesEngine runs live-style (cash from the venue, drift checks that halt) on the
real Binance USD-M client against the fake server on 127.0.0.1. The fake books funding
by ``Book.add_funding`` (an income row, the wallet moves); the engine's funding sync
applies it through ``PositionManager.apply_funding`` from a checkpoint in the recorder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from config import UnifiedConfig
from kinetic.domain import ZERO, CapitalAllocation, Direction, MarketType, Regime, TradingState
from kinetic.engines.base import AlwaysActive, EngineDeps
from kinetic.engines.drift_check import DriftChecker
from kinetic.engines.funding_sync import FundingSync
from kinetic.engines.futures import FuturesEngine
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import PositionManager
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.venues.binance import BinanceFuturesClient
from kinetic.venues.fakes.binance_server import API_KEY, API_SECRET, FakeBinance
from kinetic.venues.http import HttpSettings, RetryPolicy
from tests.fake_venues.fast_clock import FastClock
from tests.unit.engines.kit import MINUTE_MS, T0_MS, Candle, ScriptedStrategy

D = Decimal
ETH = "ETHUSDT"
CAPITAL = D(6000)
INTERVAL_S = 300


@dataclass
class Rig:
    server: FakeBinance
    client: BinanceFuturesClient
    engine: FuturesEngine
    clock: FastClock
    store: CandleStore
    strategy: ScriptedStrategy
    recorder: MemoryRecorder
    gate: AlwaysActive
    next_open: int = T0_MS

    def candle(self, price: float) -> Candle:
        t = self.next_open
        self.next_open += MINUTE_MS
        return Candle(ETH, t, t + MINUTE_MS - 1, price, price, price, price, 10.0)

    def publish(self, candle: Candle) -> None:
        self.clock.set(max(self.clock.time(), (candle.close_time_ms + 1) / 1000))
        self.server.set_price(ETH, Decimal(str(candle.close)))
        self.store.add(candle)

    async def enter_long(self, price: float = 2000.0) -> None:
        c = self.candle(price)
        self.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 1.2345, Regime.TRENDING, "e")
        self.publish(c)
        await self.engine.scan_once()
        await self.engine.monitor_once()

    def funding_events(self) -> list[dict[str, object]]:
        return [e[3] for e in self.recorder.events if e[0] == "funding"]

    async def monitor_later(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.engine.monitor_once()


async def build(server: FakeBinance, clock: FastClock, recorder: MemoryRecorder) -> Rig:
    """A live-style engine on ``server``; a second one on the same recorder is a restart."""
    settings = HttpSettings(timeout_seconds=5.0, retry=RetryPolicy(max_attempts=2))
    client = BinanceFuturesClient(
        clock, api_key=API_KEY, api_secret=API_SECRET, base_url=server.url, settings=settings
    )
    config = UnifiedConfig(protection_grace_seconds=10)
    store, strategy, gate = CandleStore(), ScriptedStrategy(), AlwaysActive()
    deps = EngineDeps(
        config=config,
        venue=client,
        strategy=strategy,
        store=store,
        oms=OrderManager("futures", client, recorder, clock),
        positions=PositionManager("futures", MarketType.FUTURES, CAPITAL),
        risk=RiskManager(RiskLimits(3, 50), lambda: True),
        recorder=recorder,
        clock=clock,
        instruments=await client.get_instruments(),
        symbols=[ETH],
        allocation=lambda: CapitalAllocation("futures", 60.0, CAPITAL, ZERO, CAPITAL),
        gate=gate,
    )
    engine = FuturesEngine(deps, SymbolBlacklist(0))
    engine.d.extra.update(cash_from_venue=True, live=True)
    engine.funding = FundingSync(INTERVAL_S)
    engine.drift = DriftChecker(60, 1.0, halt_on_drift=True)
    return Rig(server, client, engine, clock, store, strategy, recorder, gate)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FastClock(T0_MS / 1000)
    server = FakeBinance(futures=True, clock=clock)
    server.book.fund(CAPITAL)  # the wallet moves with fills, fees and funding
    await server.start()
    made = await build(server, clock, MemoryRecorder())
    try:
        yield made
    finally:
        await made.client.close()
        await server.stop()


async def test_client_lists_funding_fees_exactly_from_since(rig: Rig) -> None:
    now = rig.clock.time_ms()
    book = rig.server.book
    old = book.add_funding(ETH, D("-0.10000000"), now - 1)
    first = book.add_funding(ETH, D("-1.23456789"), now)
    second = book.add_funding("BTCUSDT", D("0.00000001"), now + 8 * 3_600_000)
    book.income.append({**first, "incomeType": "COMMISSION", "tranId": 1})  # not funding
    paid = await rig.client.get_funding_payments(now)
    assert [(p.symbol, p.amount, p.ts_ms, p.id) for p in paid] == [
        (ETH, D("-1.23456789"), now, str(first["tranId"])),
        ("BTCUSDT", D("0.00000001"), now + 8 * 3_600_000, str(second["tranId"])),
    ]
    assert str(paid[0].amount) == "-1.23456789"
    assert old["tranId"] not in {p.id for p in paid}


async def test_client_pages_past_a_full_page(rig: Rig) -> None:
    now = rig.clock.time_ms()
    for i in range(1005):
        rig.server.book.add_funding(ETH, D("-0.01"), now + i // 2)  # two rows share a time
    paid = await rig.client.get_funding_payments(now)
    assert len(paid) == len({p.id for p in paid}) == 1005
    assert sum(p.amount for p in paid) == D("-10.05")


async def test_funding_applied_once_and_drift_stays_quiet(rig: Rig) -> None:
    await rig.engine.startup()
    await rig.enter_long()
    cash = rig.engine.d.positions.cash
    realized = rig.engine.d.positions.realized_pnl
    # beyond the 1 % cash tolerance (60 USDT): unapplied, this is drift
    rig.server.book.add_funding(ETH, D("-75.5"), rig.clock.time_ms() + 1)
    for _ in range(4):
        await rig.monitor_later(INTERVAL_S)
    positions = rig.engine.d.positions
    assert positions.cash == cash - D("75.5") == rig.server.book.wallet
    assert positions.realized_pnl == realized - D("75.5")
    assert positions.funding == D("-75.5")
    assert [e["amount"] for e in rig.funding_events()] == ["-75.5"]
    assert rig.engine.drift is not None
    assert rig.engine.drift.checks >= 2
    assert not rig.engine.drift.drifting
    assert not [e for e in rig.recorder.events if e[0] == "drift"]
    assert rig.gate.state(rig.engine.name) is TradingState.ACTIVE


async def test_funding_not_applied_then_drift_flags_it(rig: Rig) -> None:
    """The control: with the sync off the same payment is drift (what item 7 fixes)."""
    rig.engine.funding = FundingSync(0)
    await rig.engine.startup()
    await rig.enter_long()
    rig.server.book.add_funding(ETH, D("-75.5"), rig.clock.time_ms() + 1)
    for _ in range(3):
        await rig.monitor_later(INTERVAL_S)
    assert rig.engine.drift is not None
    assert rig.engine.drift.drifting
    assert rig.gate.state(rig.engine.name) is TradingState.REDUCE_ONLY


async def test_restart_applies_funding_booked_while_down_once(rig: Rig) -> None:
    await rig.engine.startup()
    await rig.enter_long()
    rig.server.book.add_funding(ETH, D("-3.25"), rig.clock.time_ms() + 1)
    await rig.monitor_later(INTERVAL_S)
    realized_before = rig.engine.d.positions.realized_pnl
    await rig.client.close()  # the process dies; funding is booked meanwhile
    rig.clock.advance(8 * 3600)
    rig.server.book.add_funding(ETH, D("1.5"), rig.clock.time_ms())
    again = await build(rig.server, rig.clock, rig.recorder)
    try:
        again.store.add(rig.candle(2000.0))
        await again.engine.startup()
        for _ in range(3):
            await again.monitor_later(INTERVAL_S)
        positions = again.engine.d.positions
        assert [e["amount"] for e in again.funding_events()] == ["-3.25", "1.5"]
        assert positions.cash == rig.server.book.wallet  # the wallet, not wallet + 1.5
        assert positions.funding == D("-1.75")
        # realized PnL: closed trades (none) - open fees + every payment, across the restart
        assert positions.realized_pnl == realized_before + D("1.5")
        assert again.engine.drift is not None
        assert not again.engine.drift.drifting
    finally:
        await again.client.close()

"""Funding in live Kraken Futures (issue 11 item 7): the account log reaches the books once.

The real ``KrakenFuturesClient`` reads ``GET /api/history/v3/account-log`` from the fake
Kraken Futures server on 127.0.0.1 (signed like every private call, over the history
path). The fake books funding as "funding rate change" entries (``realized_funding``,
the cash moves) and every fill as a "futures trade" entry; the FuturesEngine's funding
sync applies the payments through ``PositionManager.apply_funding``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from config import UnifiedConfig
from kinetic.domain import ZERO, CapitalAllocation, Direction, MarketType, Regime
from kinetic.engines.base import AlwaysActive, EngineDeps
from kinetic.engines.funding_sync import FundingSync
from kinetic.engines.futures import FuturesEngine
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import MemoryRecorder
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import PositionManager
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.venues.base.errors import AuthError
from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
from kinetic.venues.http import HttpSettings, RetryPolicy
from kinetic.venues.kraken.futures import LOG_PAGE, KrakenFuturesClient
from tests.fake_venues.fast_clock import FastClock
from tests.unit.engines.kit import MINUTE_MS, T0_MS, Candle, ScriptedStrategy

D = Decimal
ETH, PF_ETH = "ETHUSD", "PF_ETHUSD"
KEY = "test-key-futures"
SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="
CAPITAL = D(6000)
INTERVAL_S = 300


@dataclass
class Rig:
    server: FakeKrakenFutures
    client: KrakenFuturesClient
    engine: FuturesEngine
    clock: FastClock
    store: CandleStore
    strategy: ScriptedStrategy
    recorder: MemoryRecorder
    next_open: int = T0_MS

    def candle(self, price: float) -> Candle:
        t = self.next_open
        self.next_open += MINUTE_MS
        return Candle(ETH, t, t + MINUTE_MS - 1, price, price, price, price, 10.0)

    async def enter_long(self, price: float = 2000.0) -> None:
        c = self.candle(price)
        self.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 1.2345, Regime.TRENDING, "e")
        self.clock.set(max(self.clock.time(), (c.close_time_ms + 1) / 1000))
        self.server.set_price(PF_ETH, Decimal(str(c.close)))
        self.store.add(c)
        await self.engine.scan_once()
        await self.engine.monitor_once()

    def funding_events(self) -> list[dict[str, object]]:
        return [e[3] for e in self.recorder.events if e[0] == "funding"]

    async def monitor_later(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.engine.monitor_once()


def client_for(
    server: FakeKrakenFutures, clock: FastClock, secret: str = SECRET
) -> KrakenFuturesClient:
    settings = HttpSettings(timeout_seconds=5.0, retry=RetryPolicy(max_attempts=2))
    return KrakenFuturesClient(
        clock, api_key=KEY, api_secret=secret, base_url=server.base_url, settings=settings
    )


async def build(server: FakeKrakenFutures, clock: FastClock, recorder: MemoryRecorder) -> Rig:
    """A live-style engine on ``server``; a second one on the same recorder is a restart."""
    client = client_for(server, clock)
    store, strategy = CandleStore(), ScriptedStrategy()
    deps = EngineDeps(
        config=UnifiedConfig(protection_grace_seconds=10),
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
        gate=AlwaysActive(),
    )
    engine = FuturesEngine(deps, SymbolBlacklist(0))
    engine.d.extra.update(cash_from_venue=True, live=True)
    engine.funding = FundingSync(INTERVAL_S)
    return Rig(server, client, engine, clock, store, strategy, recorder)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FastClock(T0_MS / 1000)
    server = FakeKrakenFutures(KEY, SECRET, clock)
    server.fund(CAPITAL)
    await server.start()
    made = await build(server, clock, MemoryRecorder())
    try:
        yield made
    finally:
        await made.client.close()
        await server.stop()


async def test_client_lists_funding_exactly_from_since(rig: Rig) -> None:
    now = rig.clock.time_ms()
    server = rig.server
    old = server.add_funding(PF_ETH, D("-0.1"), now - 1)
    first = server.add_funding(PF_ETH, D("-1.23456789"), now)
    trade = server.account_log.add(now + 5, "futures trade", PF_ETH, trade_price=2000.0)
    second = server.add_funding("PF_XBTUSD", D("0.00000001"), now + 8 * 3_600_000)
    server.account_log.add(now + 6, "funding rate change", "pi_xbtusd", realized_funding=0.5)
    paid = await rig.client.get_funding_payments(now)
    assert [(p.symbol, p.amount, p.ts_ms, p.id) for p in paid] == [
        (ETH, D("-1.23456789"), now, first["booking_uid"]),
        ("BTCUSD", D("1E-8"), now + 8 * 3_600_000, second["booking_uid"]),
    ]
    ids = {p.id for p in paid}
    assert old["booking_uid"] not in ids
    assert trade["booking_uid"] not in ids
    assert rig.server.cash == CAPITAL - D("0.1") - D("1.23456789") + D("0.00000001")


async def test_client_pages_past_a_full_page(rig: Rig) -> None:
    now = rig.clock.time_ms()
    for i in range(LOG_PAGE + 105):
        rig.server.add_funding(PF_ETH, D("-0.01"), now + i // 2)  # two entries share a time
        rig.server.account_log.add(now + i // 2, "futures trade", PF_ETH)  # interleaved noise
    paid = await rig.client.get_funding_payments(now)
    assert len(paid) == len({p.id for p in paid}) == LOG_PAGE + 105
    assert sum(p.amount for p in paid) == D("-0.01") * (LOG_PAGE + 105)
    assert rig.server.calls["account-log"] > 2


async def test_account_log_is_signed_over_the_history_path(rig: Rig) -> None:
    wrong = client_for(rig.server, rig.clock, secret="d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
    try:
        with pytest.raises(AuthError):
            await wrong.get_funding_payments(0)
    finally:
        await wrong.close()
    assert await rig.client.get_funding_payments(0) == []


async def test_engine_applies_kraken_funding_once_across_a_restart(rig: Rig) -> None:
    await rig.engine.startup()
    await rig.enter_long()
    rig.server.add_funding(PF_ETH, D("-3.25"), rig.clock.time_ms() + 1)
    for _ in range(3):
        await rig.monitor_later(INTERVAL_S)
    assert [e["amount"] for e in rig.funding_events()] == ["-3.25"]
    assert rig.engine.d.positions.funding == D("-3.25")
    await rig.client.close()  # the process dies; funding is booked meanwhile
    rig.clock.advance(8 * 3600)
    rig.server.add_funding(PF_ETH, D("1.5"), rig.clock.time_ms())
    again = await build(rig.server, rig.clock, rig.recorder)
    try:
        again.store.add(rig.candle(2000.0))
        await again.engine.startup()
        for _ in range(3):
            await again.monitor_later(INTERVAL_S)
        assert [e["amount"] for e in again.funding_events()] == ["-3.25", "1.5"]
        assert again.engine.d.positions.funding == D("-1.75")
    finally:
        await again.client.close()

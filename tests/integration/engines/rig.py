"""The FuturesEngine on a real venue client against a fake venue server: one rig, two venues.

The engine is wired as the daemon wires it, but on the fake venue server
(``kinetic.venues.fakes``) on 127.0.0.1, a FastClock (every sleep moves time at once) and
a scripted strategy. A ``Venue`` says how to start its fake, connect the real client and
read or book on the fake's side; a ``Wiring`` says what the daemon adds for live trading.
``Rig.restart`` builds a second engine with a new client on the same server, clock and
recorder: the daemon restarted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from config import UnifiedConfig
from kinetic.domain import ZERO, CapitalAllocation, Direction, MarketType, Regime
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
from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
from kinetic.venues.http import HttpSettings, RetryPolicy
from kinetic.venues.kraken.futures import KrakenFuturesClient
from tests.fake_venues.fast_clock import FastClock
from tests.unit.engines.kit import MINUTE_MS, T0_MS, Candle, ScriptedStrategy

D = Decimal
CAPITAL = D(6000)
KRAKEN_KEY = "test-key-futures"
KRAKEN_SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="


@dataclass(frozen=True)
class Stop:
    """A resting stop order as every venue's test sees it."""

    client_id: str
    qty: Decimal
    side: str  # "buy" | "sell"
    reduce_only: bool
    stop_market: bool  # a stop-market order (triggers a market close)


def _kraken_cancel(server: FakeKrakenFutures, order: dict[str, Any]) -> None:
    order["status"] = "cancelled"


@dataclass(frozen=True)
class Venue:
    """One venue's fake server and client, and what the tests read or book on the fake."""

    name: str
    symbol: str  # the engine's (and the strategy's) symbol
    venue_symbol: str  # the same market on the fake (prices, funding)
    make_server: Callable[[FastClock], Any]
    fund: Callable[[Any, Decimal], None]  # the account's cash; fills, fees and funding move it
    connect: Callable[[Any, FastClock], Any]  # the real client, on the fake's URL
    add_funding: Callable[[Any, str, Decimal, int], dict[str, Any]]  # the booked row
    cash: Callable[[Any], Decimal]  # the account's cash as the fake keeps it
    position: Callable[[Any, str], Decimal]  # signed position of a venue symbol
    stops: Callable[[Any, str], list[Any]]  # resting stops of a venue symbol (fake's shape)
    view: Callable[[Any], Stop]  # one of those stops, venue-neutral
    cancel: Callable[[Any, Any], None]  # cancel one of them on the venue (by hand, say)


def _settings() -> HttpSettings:
    return HttpSettings(timeout_seconds=5.0, retry=RetryPolicy(max_attempts=2))


def binance_client(server: FakeBinance, clock: FastClock) -> BinanceFuturesClient:
    return BinanceFuturesClient(
        clock, api_key=API_KEY, api_secret=API_SECRET, base_url=server.url, settings=_settings()
    )


def kraken_client(
    server: FakeKrakenFutures, clock: FastClock, secret: str = KRAKEN_SECRET
) -> KrakenFuturesClient:
    return KrakenFuturesClient(
        clock, api_key=KRAKEN_KEY, api_secret=secret, base_url=server.base_url, settings=_settings()
    )


BINANCE = Venue(
    name="binance",
    symbol="ETHUSDT",
    venue_symbol="ETHUSDT",
    make_server=lambda clock: FakeBinance(futures=True, clock=clock),
    fund=lambda server, cash: server.book.fund(cash),
    connect=binance_client,
    add_funding=lambda server, symbol, amount, ts: server.book.add_funding(symbol, amount, ts),
    cash=lambda server: server.book.wallet,
    position=lambda server, symbol: server.book.positions.get(symbol, (ZERO, ZERO))[0],
    stops=lambda server, symbol: server.book.open_orders(symbol, algo=True),
    view=lambda o: Stop(o.client_id, o.qty, o.side.lower(), o.reduce_only, o.type == "STOP_MARKET"),
    cancel=lambda server, order: server.book.cancel(order),
)
KRAKEN = Venue(
    name="kraken",
    symbol="ETHUSD",
    venue_symbol="PF_ETHUSD",
    make_server=lambda clock: FakeKrakenFutures(KRAKEN_KEY, KRAKEN_SECRET, clock),
    fund=lambda server, cash: server.fund(cash),
    connect=kraken_client,
    add_funding=lambda server, symbol, amount, ts: server.add_funding(symbol, amount, ts),
    cash=lambda server: server.cash,
    position=lambda server, symbol: server.positions.get(symbol, ZERO),
    stops=lambda server, symbol: [
        o
        for o in server.orders.values()
        if o["status"] == "open" and o["symbol"] == symbol and o["orderType"] == "stp"
    ],
    view=lambda o: Stop(
        o["cliOrdId"], o["size"] - o["filled"], o["side"], o["reduceOnly"], o["orderType"] == "stp"
    ),
    cancel=_kraken_cancel,
)


@dataclass(frozen=True)
class Wiring:
    """What the daemon adds to a futures engine (all off: as the protection tests need)."""

    live: bool = False  # cash from the venue, live mode
    funding_interval_s: float | None = None  # the funding sync (0: off but present)
    halt_on_drift: bool = False  # a drift check every 60 s, 1 % cash tolerance, that halts


@dataclass
class Rig:
    venue: Venue
    wiring: Wiring
    server: Any
    client: Any
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
        sym = self.venue.symbol
        return Candle(sym, t, t + MINUTE_MS - 1, price, price, price, price, 10.0)

    def publish(self, candle: Candle) -> None:
        self.clock.set(max(self.clock.time(), (candle.close_time_ms + 1) / 1000))
        self.server.set_price(self.venue.venue_symbol, Decimal(str(candle.close)))
        self.store.add(candle)

    async def enter_long(self, price: float = 2000.0) -> None:
        c = self.candle(price)
        sym = self.venue.symbol
        self.strategy.at(sym, c.open_time_ms, Direction.LONG, 80, 1.2345, Regime.TRENDING, "e")
        self.publish(c)
        await self.engine.scan_once()
        await self.engine.monitor_once()

    async def monitor_later(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.engine.monitor_once()

    def funding_events(self) -> list[dict[str, object]]:
        return [e[3] for e in self.recorder.events if e[0] == "funding"]

    def add_funding(self, amount: Decimal, ts_ms: int) -> dict[str, Any]:
        """Book a funding payment on the rig's market at the venue (the cash moves)."""
        return self.venue.add_funding(self.server, self.venue.venue_symbol, amount, ts_ms)

    def venue_cash(self) -> Decimal:
        return self.venue.cash(self.server)

    def position_amt(self) -> Decimal:
        return self.venue.position(self.server, self.venue.venue_symbol)

    def stops(self) -> list[Any]:
        return self.venue.stops(self.server, self.venue.venue_symbol)

    def stop_views(self) -> list[Stop]:
        return [self.venue.view(o) for o in self.stops()]

    def cancel_stops(self) -> None:
        """Cancel the resting stops on the venue, behind the engine's back."""
        for order in self.stops():
            self.venue.cancel(self.server, order)

    async def restart(self) -> Rig:
        """A new client and engine on the same server, clock and recorder (close it after)."""
        return await build(self.venue, self.wiring, self.server, self.clock, self.recorder)


async def build(
    venue: Venue, wiring: Wiring, server: Any, clock: FastClock, recorder: MemoryRecorder
) -> Rig:
    """An engine on ``server`` with its own client."""
    client = venue.connect(server, clock)
    store, strategy, gate = CandleStore(), ScriptedStrategy(), AlwaysActive()
    instruments = await client.get_instruments()
    quote = instruments[venue.symbol].quote  # the cash asset, as the daemon wires it
    deps = EngineDeps(
        config=UnifiedConfig(protection_grace_seconds=10),
        venue=client,
        strategy=strategy,
        store=store,
        oms=OrderManager("futures", client, recorder, clock),
        positions=PositionManager("futures", MarketType.FUTURES, CAPITAL, quote=quote),
        risk=RiskManager(RiskLimits(3, 50), lambda: True),
        recorder=recorder,
        clock=clock,
        instruments=instruments,
        symbols=[venue.symbol],
        allocation=lambda: CapitalAllocation("futures", 60.0, CAPITAL, ZERO, CAPITAL),
        gate=gate,
    )
    engine = FuturesEngine(deps, SymbolBlacklist(0))
    if wiring.live:
        engine.d.extra.update(cash_from_venue=True, live=True)
    if wiring.funding_interval_s is not None:
        engine.funding = FundingSync(wiring.funding_interval_s)
    if wiring.halt_on_drift:
        engine.drift = DriftChecker(60, 1.0, halt_on_drift=True)
    return Rig(venue, wiring, server, client, engine, clock, store, strategy, recorder, gate)


@asynccontextmanager
async def open_rig(
    venue: Venue, wiring: Wiring, *, cash: Decimal | None = None
) -> AsyncIterator[Rig]:
    """Start the venue's fake (funded with ``cash`` if given) and build a rig on it."""
    clock = FastClock(T0_MS / 1000)
    server = venue.make_server(clock)
    if cash is not None:
        venue.fund(server, cash)
    await server.start()
    made = await build(venue, wiring, server, clock, MemoryRecorder())
    try:
        yield made
    finally:
        await made.client.close()
        await server.stop()

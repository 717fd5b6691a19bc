"""Composition root: build the object graph for a mode and run the daemon.

Replay mode (the default): recorded candles from ``replay_data_dir`` are published on
a ``ScaledClock`` to one SimExchange per engine; each engine reads them from its own
CandleStore. Supervision (heartbeats, restart backoff) runs on the real clock; market
logic (scan intervals, cooldowns, daily resets) runs on the market clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from config import ConfigValidationError, EnvConfig, UnifiedConfig
from kinetic.clock import Clock, RealClock, ScaledClock
from kinetic.domain import CapitalAllocation, MarketType
from kinetic.engines.base import BaseEngine, EngineDeps
from kinetic.engines.futures import FuturesEngine
from kinetic.engines.spot import SpotEngine
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import Recorder
from kinetic.logging import get_logger
from kinetic.marketdata.files import CandleArrays
from kinetic.marketdata.replay import ReplayFeed, discover_replay_files, load_series
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import PositionManager
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.storage.db import Database, resolve_database_url, safe_url
from kinetic.storage.recorder import DbRecorder
from kinetic.storage.repositories import Repositories
from kinetic.strategy.registry import create_strategy
from kinetic.supervisor.allocator import CapitalAllocator
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.venues.sim import SimFuturesExchange, SimSpotExchange
from kinetic.venues.sim.instruments import default_instruments

log = get_logger(component="app")
MARKETS = {"spot": MarketType.SPOT, "futures": MarketType.FUTURES}


class StartupError(RuntimeError):
    """The daemon cannot start; the message says why (no traceback for the operator)."""


@dataclass
class ReplayWorld:
    """Everything replay mode shares between engines: data, clock, feed, venues."""

    clock: ScaledClock
    feed: ReplayFeed
    series: dict[str, dict[str, CandleArrays]]
    stores: dict[str, CandleStore] = field(default_factory=dict)
    venues: dict[str, Any] = field(default_factory=dict)


def replay_symbols(config: UnifiedConfig, engine: str) -> tuple[dict[str, Any], list[str]]:
    """Return the replay files for the engine's watchlist and the symbols lacking data."""
    watch = config.spot_watchlist if engine == "spot" else config.futures_watchlist
    files = discover_replay_files(config.replay_data_dir, engine, config.timeframe)
    have = {s: files[s] for s in watch if s in files}
    return have, [s for s in watch if s not in files]


def build_replay_world(config: UnifiedConfig, engines: list[str], speed: float) -> ReplayWorld:
    """Load the recorded candles and create the scaled clock and the feed."""
    series: dict[str, dict[str, CandleArrays]] = {}
    for engine in engines:
        files, missing = replay_symbols(config, engine)
        if missing:
            log.warning(
                "no replay data for some watchlist symbols; they are skipped",
                engine=engine,
                symbols=missing,
                data_dir=config.replay_data_dir,
            )
        if not files:
            raise StartupError(
                f"{engine}: no replay data for any of its watchlist symbols in "
                f"{config.replay_data_dir}/{engine}/ (timeframe {config.timeframe})"
            )
        series[engine] = load_series(files)
    warm = config.replay_warmup_candles
    # the replay clock starts where the warm-up ends (at the first candle without warm-up)
    starts = [
        int(a.open_time_ms[warm - 1]) + a.interval_ms - 1
        if 0 < warm <= len(a)
        else int(a.open_time_ms[0])
        if warm == 0
        else int(a.open_time_ms[-1]) + a.interval_ms - 1
        for per in series.values()
        for a in per.values()
        if len(a)
    ]
    clock = ScaledClock(max(starts) / 1000.0, speed)
    feed = ReplayFeed(clock)
    for engine, per in series.items():
        for data in per.values():
            feed.add_series(engine, data)
    return ReplayWorld(clock, feed, series)


def starting_capital(config: UnifiedConfig, allocator: CapitalAllocator, engine: str) -> Decimal:
    pct = Decimal(str(allocator.allocated_pct(engine)))
    return (Decimal(str(config.initial_capital_usd)) * pct / Decimal(100)).quantize(Decimal("0.01"))


def make_sim_venue(
    config: UnifiedConfig,
    engine: str,
    symbols: list[str],
    clock: Clock,
    capital: Decimal,
    run_id: str = "",
) -> Any:
    """Create the SimExchange an engine trades on, with the configured fees and slippage.

    ``run_id`` goes into the venue name and so into every trade id: each daemon run is a
    fresh simulation, and its fills must not collide with an earlier run's in the journal.
    """
    suffix = f"-{run_id}" if run_id else ""
    instruments = default_instruments(MARKETS[engine], symbols)
    slip = Decimal(str(config.slippage_bps))
    if engine == "spot":
        return SimSpotExchange(
            instruments,
            clock,
            {"USDT": capital},
            taker_fee=Decimal(str(config.taker_fee_pct)) / 100,
            maker_fee=Decimal(str(config.maker_fee_pct)) / 100,
            slippage_bps=slip,
            name=f"sim-spot{suffix}",
        )
    return SimFuturesExchange(
        instruments,
        clock,
        capital,
        taker_fee=Decimal(str(config.futures_taker_fee_pct)) / 100,
        maker_fee=Decimal(str(config.futures_maker_fee_pct)) / 100,
        slippage_bps=slip,
        name=f"sim-futures{suffix}",
    )


class _AllocationRef:
    """Late binding: engines ask the orchestrator, which is built after them."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.orchestrator: Orchestrator | None = None

    def __call__(self) -> CapitalAllocation:
        assert self.orchestrator is not None
        return self.orchestrator.get_allocation(self.engine)


def build_engine(
    name: str,
    config: UnifiedConfig,
    venue: Any,
    store: CandleStore,
    recorder: Recorder,
    clock: Clock,
    symbols: list[str],
    capital: Decimal,
    alloc: _AllocationRef,
    can_trade: Any,
    heartbeat: Any,
) -> BaseEngine:
    """Wire one engine from its collaborators."""
    market = MARKETS[name]
    blacklist = SymbolBlacklist(config.futures_blacklist_duration_minutes)
    if name == "spot":
        limits = RiskLimits(config.spot_max_positions, config.spot_min_confidence)
        risk = RiskManager(limits, can_trade)
    else:
        limits = RiskLimits(config.futures_max_positions, config.futures_min_confidence)
        risk = RiskManager(limits, can_trade, lambda s: blacklist.is_blacklisted(s, clock.time()))
    strategy_name = config.spot_strategy if name == "spot" else config.futures_strategy
    deps = EngineDeps(
        config=config,
        venue=venue,
        strategy=_strategy(strategy_name, config, name),
        store=store,
        oms=OrderManager(name, venue, recorder, clock),
        positions=PositionManager(name, market, capital),
        risk=risk,
        recorder=recorder,
        clock=clock,
        instruments=default_instruments(market, symbols),
        symbols=symbols,
        allocation=alloc,
        heartbeat=heartbeat,
    )
    if name == "spot":
        return SpotEngine(deps)
    return FuturesEngine(deps, blacklist)


class Daemon:
    """The whole process: database, replay world, engines and the orchestrator."""

    def __init__(
        self,
        config: UnifiedConfig,
        env: EnvConfig,
        *,
        mode: str = "replay",
        database_url: str | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.mode = mode
        url = database_url or (env.database_url.get_secret_value() if env.database_url else None)
        self.db = Database(resolve_database_url(url, config.sqlite_path))
        self.orchestrator: Orchestrator | None = None
        self.world: ReplayWorld | None = None
        self._feed_task: asyncio.Task[None] | None = None
        # identifies this run's simulation in trade ids (base-36 wall-clock milliseconds)
        self.run_id = _base36(int(RealClock().time() * 1000))

    async def open_database(self) -> DbRecorder:
        await self.db.connect()
        await self.db.migrate()
        await self.db.check_schema()
        log.info("database ready", url=safe_url(self.db.url))
        return DbRecorder(Repositories.create(self.db, RealClock()))

    async def build(self) -> None:
        if self.mode != "replay":
            raise StartupError(
                f"mode {self.mode!r} needs the real venue clients, which this build does not "
                "include yet; use --mode replay"
            )
        allocator = CapitalAllocator(self.config)
        enabled = allocator.enabled
        if not enabled:
            raise StartupError("no engine enabled: set spot_enabled or futures_enabled")
        recorder = await self.open_database()
        self.world = build_replay_world(self.config, enabled, self.config.replay_speed)
        market_clock = self.world.clock
        engines: dict[str, BaseEngine] = {}
        refs: list[_AllocationRef] = []
        heartbeat = _HeartbeatRef()
        for name in enabled:
            symbols = list(self.world.series[name])
            capital = starting_capital(self.config, allocator, name)
            venue = make_sim_venue(self.config, name, symbols, market_clock, capital, self.run_id)
            store = CandleStore(maxlen=max(500, self.config.replay_warmup_candles + 50))
            self.world.stores[name] = store
            self.world.venues[name] = venue
            ref = _AllocationRef(name)
            refs.append(ref)
            engines[name] = build_engine(
                name,
                self.config,
                venue,
                store,
                recorder,
                market_clock,
                symbols,
                capital,
                ref,
                heartbeat.can_trade,
                heartbeat,
            )
        self.world.feed.subscribe(self._deliver)
        orch = Orchestrator(
            self.config, dict(engines), recorder, RealClock(), market_clock, allocator=allocator
        )
        for ref in refs:
            ref.orchestrator = orch
        heartbeat.orchestrator = orch
        self.orchestrator = orch
        # a replay is a fresh simulation: breaker state of an earlier run does not apply
        saved = await recorder.load_portfolio_state() if self.mode != "replay" else None
        if saved:
            orch.risk_monitor.restore(saved)
        await recorder.record_event(
            "config_loaded",
            "configuration loaded",
            None,
            {"mode": self.mode, "engines": enabled, "config": self.config.model_dump(mode="json")},
        )

    def _deliver(self, market: str, candle: Any) -> None:
        assert self.world is not None
        self.world.venues[market].on_candle(candle)
        self.world.stores[market].add(candle)

    async def run(self, stop: asyncio.Event) -> None:
        """Start everything, wait for ``stop``, then shut down in stages."""
        try:
            if self.orchestrator is None:  # tests may build first and adjust the graph
                await self.build()
            assert self.world is not None
            assert self.orchestrator is not None
            self.world.feed.prime(self.config.replay_warmup_candles)
            await self.orchestrator.start()
            self._feed_task = asyncio.create_task(self.world.feed.run(), name="replay:feed")
            log.info(
                "daemon running",
                mode=self.mode,
                engines=sorted(self.orchestrator.tasks),
                replay_speed=self.config.replay_speed,
            )
            await stop.wait()
            log.info("shutdown requested: stopping new entries and draining")
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        if self._feed_task is not None:
            self._feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feed_task
        if self.orchestrator is not None:
            await self.orchestrator.stop()
        await self.db.close()


class _HeartbeatRef:
    """Engines report heartbeats and ask about the breaker through this late binding."""

    def __init__(self) -> None:
        self.orchestrator: Orchestrator | None = None

    def __call__(self, engine: str) -> None:
        if self.orchestrator is not None:
            self.orchestrator.health_monitor.record_heartbeat(engine)

    def can_trade(self) -> bool:
        return self.orchestrator is None or self.orchestrator.risk_monitor.can_open_new_trade()


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM only set the stop event; shutdown happens in ``Daemon.run``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_daemon(config: UnifiedConfig, env: EnvConfig, mode: str) -> int:
    if mode == "live":
        missing = env.missing_live_keys(config.live_key_groups())
        if missing:
            raise ConfigValidationError(
                f"live mode needs API keys before any engine starts; missing: {', '.join(missing)}"
            )
        if not config.live_trading_enabled:
            raise ConfigValidationError(
                "live mode must be confirmed with --live or live_trading_enabled: true"
            )
    stop = asyncio.Event()
    install_signal_handlers(stop)
    daemon = Daemon(config, env, mode=mode)
    await daemon.run(stop)
    return 0


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _strategy(name: str, config: UnifiedConfig, engine: str) -> Any:
    try:
        return create_strategy(name, config, engine)
    except ValueError as exc:
        raise StartupError(f"{engine}_strategy: {exc}") from None

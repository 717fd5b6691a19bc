"""Replay mode (the default): the world the engines trade in when the market is recorded.

Recorded candles from ``replay_data_dir`` are published on a ``ScaledClock`` to one
SimExchange per engine; each engine reads them from its own CandleStore. Supervision
(heartbeats, restart backoff) runs on the real clock; market logic (scan intervals,
cooldowns, daily resets) runs on the market clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from config import UnifiedConfig
from kinetic.clock import ScaledClock
from kinetic.logging import get_logger
from kinetic.marketdata.files import CandleArrays
from kinetic.marketdata.replay import ReplayFeed, discover_replay_files, load_series
from kinetic.marketdata.store import CandleStore
from kinetic.wiring import StartupError, make_sim_venue

log = get_logger(component="app")


@dataclass
class ReplayWorld:
    """Everything replay mode shares between engines: data, clock, feed, venues."""

    clock: ScaledClock
    feed: ReplayFeed
    series: dict[str, dict[str, CandleArrays]]
    stores: dict[str, CandleStore] = field(default_factory=dict)
    venues: dict[str, Any] = field(default_factory=dict)
    symbols: dict[str, list[str]] = field(default_factory=dict)
    instruments: dict[str, Any] = field(default_factory=dict)  # None: SimExchange defaults

    def deliver(self, market: str, candle: Any) -> None:
        """Hand a closed candle of ``market`` to its SimExchange, then to its store."""
        self.venues[market].on_candle(candle)
        self.stores[market].add(candle)


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


def replay_world(
    config: UnifiedConfig, enabled: list[str], capital: dict[str, Decimal], run_id: str
) -> ReplayWorld:
    """The replay world with a SimExchange and a store per enabled engine, fed by the feed."""
    world = build_replay_world(config, enabled, config.replay_speed)
    for name in enabled:
        symbols = list(world.series[name])
        world.symbols[name] = symbols
        world.venues[name] = make_sim_venue(
            config, name, symbols, world.clock, capital[name], run_id
        )
        world.stores[name] = CandleStore(
            maxlen=max(500, config.replay_warmup_candles + 50),
            market_time_ms=world.feed.market_time_ms,  # staleness on the replay clock
        )
    world.feed.subscribe(world.deliver)
    return world

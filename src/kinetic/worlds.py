"""Paper and live mode: the world the engines trade in when the market is real.

* ``paper`` — a real venue's public data (instruments with their filters, REST warm-up,
  live closed-candle streams) and SimExchange fills with that venue's fees. No keys.
* ``live`` — the same data, and orders go to the real venue with the operator's keys,
  after the start-up checks (``live_checks``) pass. A dead-man switch is refreshed
  while the daemon runs, so a frozen process cannot leave orders working.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from config import KEYED_MODES, EnvConfig, UnifiedConfig
from kinetic.clock import Clock, RealClock
from kinetic.domain import Candle, Instrument
from kinetic.logging import get_logger
from kinetic.marketdata.live import LiveFeed
from kinetic.marketdata.recording import CandleRecorder
from kinetic.marketdata.store import CandleStore
from kinetic.retrying import retry_transient
from kinetic.tasks import cancel_and_wait
from kinetic.venues.base.errors import VenueError
from kinetic.venues.factory import (
    Keys,
    keys_for,
    make_candle_source,
    make_client,
    make_user_stream,
    venue_urls,
)
from kinetic.venues.sim import SimFuturesExchange, SimSpotExchange
from kinetic.venues.unsent import UnsentFuturesVenue, UnsentSpotVenue
from kinetic.wiring import StartupError

log = get_logger(component="venue_world")
# (taker %, maker %) at the venues' entry fee tiers, used for paper fills
VENUE_FEES_PCT: dict[tuple[str, str], tuple[str, str]] = {
    ("binance", "spot"): ("0.1", "0.1"),
    ("binance", "futures"): ("0.05", "0.02"),
    ("kraken", "spot"): ("0.40", "0.25"),
    ("kraken", "futures"): ("0.05", "0.02"),
}


@dataclass
class VenueWorld:
    """Clients, venues the engines trade on, stores and the live feed."""

    mode: str
    clock: Clock
    feed: LiveFeed
    clients: dict[str, Any] = field(default_factory=dict)
    venues: dict[str, Any] = field(default_factory=dict)
    stores: dict[str, CandleStore] = field(default_factory=dict)
    instruments: dict[str, dict[str, Instrument]] = field(default_factory=dict)
    symbols: dict[str, list[str]] = field(default_factory=dict)
    user_streams: list[Any] = field(default_factory=list)
    # engine wake-ups: a new closed candle is acted on at once, not at the next scan
    wake: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, Keys] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    # cancel-all-after timer (0: off). Off by default: the venues' timers cancel every
    # order, protective stops included, so a dead daemon would leave positions naked
    dead_man_timeout_s: int = 0
    _dead_man: asyncio.Task[None] | None = None

    def deliver(self, market: str, candle: Candle) -> None:
        if self.mode in ("paper", "dry_run"):
            self.venues[market].on_candle(candle)
        if self.stores[market].add(candle) and market in self.wake:
            self.wake[market]()

    def start(self) -> None:
        self.feed.start()
        if self.mode == "live" and self.dead_man_timeout_s > 0:
            self._dead_man = asyncio.create_task(self._refresh_dead_man(), name="live:dead-man")

    async def _refresh_dead_man(self) -> None:
        while True:
            for market, client in self.clients.items():
                if not hasattr(client, "set_dead_man_switch"):
                    continue  # e.g. Binance spot has no countdown cancel-all
                try:
                    await client.set_dead_man_switch(self.dead_man_timeout_s)
                except VenueError as exc:
                    log.warning("dead-man switch refresh failed", market=market, error=str(exc))
            await self.clock.sleep(self.dead_man_timeout_s / 3)

    def start_user_streams(self, config: UnifiedConfig, wake: dict[str, Any]) -> None:
        """Live: follow private order updates; each update wakes the engine's loops."""
        for engine, client in self.clients.items():
            stream = make_user_stream(
                venue_of(config, engine),
                engine,
                client,
                self.clock,
                self.urls,
                self.keys[engine],
                wake[engine],
            )
            if stream is not None:
                stream.start()
                self.user_streams.append(stream)

    async def stop(self) -> None:
        """Stop streams and the dead-man refresh; switch the venue timers off; close."""
        for stream in self.user_streams:
            with contextlib.suppress(Exception):
                await stream.stop()
        await self.feed.stop()
        await cancel_and_wait(self._dead_man)
        for market, client in self.clients.items():
            if self._dead_man is not None and hasattr(client, "set_dead_man_switch"):
                # a clean stop must not let the timer cancel the protective stops later
                try:
                    await client.set_dead_man_switch(0)
                except VenueError as exc:
                    log.warning(
                        "could not switch the dead-man timer off", market=market, error=str(exc)
                    )
            with contextlib.suppress(Exception):
                await client.close()


def venue_of(config: UnifiedConfig, engine: str) -> str:
    venue = config.spot_venue if engine == "spot" else config.futures_venue
    if venue == "sim":
        raise StartupError(f"{engine}_venue: 'sim' has no market data; choose binance or kraken")
    return venue


def watchlist(config: UnifiedConfig, engine: str) -> list[str]:
    return list(config.spot_watchlist if engine == "spot" else config.futures_watchlist)


def pick_instruments(
    engine: str, venue: str, listed: dict[str, Instrument], wanted: list[str]
) -> dict[str, Instrument]:
    """Return the watchlist's instruments; unknown symbols stop the start-up."""
    unknown = [s for s in wanted if s not in listed]
    if unknown:
        valid = sorted(listed)
        shown = ", ".join(valid[:40]) + (f" ... ({len(valid)} in all)" if len(valid) > 40 else "")
        raise StartupError(
            f"{engine}_watchlist: {unknown} not listed on {venue} {engine}; valid symbols: {shown}"
        )
    return {s: listed[s] for s in wanted}


def paper_venue(
    engine: str,
    venue: str,
    instruments: dict[str, Instrument],
    clock: Clock,
    capital: Decimal,
    config: UnifiedConfig,
    run_id: str,
) -> Any:
    """A SimExchange with the real venue's instruments and fees."""
    taker, maker = (Decimal(x) / 100 for x in VENUE_FEES_PCT[(venue, engine)])
    slip = Decimal(str(config.slippage_bps))
    name = f"paper-{venue}-{engine}-{run_id}"
    if engine == "spot":
        quote = next(iter(instruments.values())).quote
        return SimSpotExchange(
            instruments,
            clock,
            {quote: capital},
            taker_fee=taker,
            maker_fee=maker,
            slippage_bps=slip,
            name=name,
        )
    return SimFuturesExchange(
        instruments, clock, capital, taker_fee=taker, maker_fee=maker, slippage_bps=slip, name=name
    )


def _trading_venue(
    world: VenueWorld,
    engine: str,
    venue: str,
    client: Any,
    instruments: dict[str, Instrument],
    capital: Decimal,
    config: UnifiedConfig,
    run_id: str,
) -> Any:
    """What the engine trades on: the client (live), a SimExchange (paper), or one of
    them behind a venue that never places an order (validate_only, dry_run)."""
    unsent = UnsentFuturesVenue if engine == "futures" else UnsentSpotVenue
    if world.mode == "live":
        return client
    if world.mode == "validate_only":
        quotes = frozenset(i.quote for i in instruments.values()) if engine == "spot" else None
        return unsent(client, world.mode, world.clock, quotes)
    sim = paper_venue(engine, venue, instruments, world.clock, capital, config, run_id)
    return unsent(sim, world.mode, world.clock) if world.mode == "dry_run" else sim


async def build_venue_world(
    config: UnifiedConfig,
    env: EnvConfig,
    mode: str,
    engines: list[str],
    capital: dict[str, Decimal],
    run_id: str,
    *,
    record_candles: bool = True,
    retry_budget_s: float = 0.0,
    clock: Clock | None = None,
) -> VenueWorld:
    """Connect to the configured venues, check symbols, warm up and prepare streams.

    With ``record_candles`` and ``candle_record_dir`` set, every candle delivered (the
    warm-up history included) is appended to the recorded-candle files. With
    ``retry_budget_s`` (the daemon's live start) a transient venue error is retried with
    backoff on ``clock`` (``kinetic.retrying``) instead of ending the start.
    """
    clock = clock or RealClock()
    urls = venue_urls(config, env, live=mode in KEYED_MODES)
    world = VenueWorld(
        mode, clock, LiveFeed({}), urls=urls, dead_man_timeout_s=config.dead_man_switch_seconds
    )
    world.feed.subscribe(world.deliver)
    if record_candles and config.candle_record_dir:  # before the warm-up: history kept too
        world.feed.subscribe(CandleRecorder(config.candle_record_dir, config.timeframe))
    try:
        for engine in engines:
            await _add_engine(
                world, config, env, engine, urls, capital[engine], run_id, retry_budget_s
            )
    except BaseException:
        await world.stop()
        raise
    return world


async def _add_engine(
    world: VenueWorld,
    config: UnifiedConfig,
    env: EnvConfig,
    engine: str,
    urls: dict[str, str],
    capital: Decimal,
    run_id: str,
    retry_budget_s: float = 0.0,
) -> None:
    venue = venue_of(config, engine)
    if world.mode == "validate_only" and (venue, engine) == ("kraken", "futures"):
        raise StartupError(
            "mode validate_only: Kraken Futures has no validate/test order flag; use "
            "dry_run, or a Binance USD-M futures_venue, or disable the futures engine"
        )
    keys = keys_for(env, venue, engine) if world.mode in KEYED_MODES else Keys()
    world.keys[engine] = keys
    client = make_client(venue, engine, world.clock, urls, keys, config.venue_state_dir)
    world.clients[engine] = client
    try:
        listed = await retry_transient(
            client.get_instruments,
            world.clock,
            f"{engine}: instruments from {venue}",
            budget_s=retry_budget_s,
            client=client,
        )
    except VenueError as exc:
        raise StartupError(f"{engine}: cannot read instruments from {venue}: {exc}") from None
    wanted = watchlist(config, engine)
    instruments = pick_instruments(engine, venue, listed, wanted)
    world.instruments[engine], world.symbols[engine] = instruments, wanted
    world.stores[engine] = CandleStore(maxlen=max(500, config.paper_warmup_candles + 50))
    world.venues[engine] = _trading_venue(
        world, engine, venue, client, instruments, capital, config, run_id
    )
    last = await retry_transient(
        lambda: world.feed.warm_up(
            engine, client, wanted, config.timeframe, config.paper_warmup_candles
        ),
        world.clock,
        f"{engine}: candle warm-up from {venue}",
        budget_s=retry_budget_s,
        client=client,
    )
    world.feed.sources[engine] = make_candle_source(
        venue, engine, client, wanted, config.timeframe, world.clock, urls, last
    )
    log.info("venue ready", engine=engine, venue=venue, mode=world.mode, symbols=wanted)


async def live_checks(
    world: VenueWorld,
    max_offset_ms: int = 1000,
    *,
    private: Collection[str] | None = None,
    retry_budget_s: float = 0.0,
) -> list[tuple[bool, str]]:
    """Start-up checks for live trading: clock offset, keys, balances, position mode.

    Only the engines in ``private`` (default: all) get the checks that need API keys.
    With ``retry_budget_s`` a transient venue error is retried with backoff; one that
    outlasts the budget raises ``VenueUnavailable`` rather than failing the check.
    """
    results: list[tuple[bool, str]] = []
    for engine, client in world.clients.items():

        def check(what: str, step: Callable[[], Awaitable[Any]], e: str = engine) -> Any:
            retried = retry_transient(
                step, world.clock, f"{e}: {what}", budget_s=retry_budget_s, client=world.clients[e]
            )
            return _check(e, what, retried)

        results.append(
            await check("clock offset", functools.partial(_clock_offset, client, max_offset_ms))
        )
        if private is not None and engine not in private:
            continue
        results.append(await check("balances readable (key valid)", client.get_balances))
        if hasattr(client, "ensure_one_way_mode"):
            results.append(await check("one-way position mode", client.ensure_one_way_mode))
    return results


async def _clock_offset(client: Any, max_offset_ms: int) -> None:
    server = await client.get_server_time_ms()
    offset = server - int(RealClock().time() * 1000)
    if abs(offset) > max_offset_ms:
        raise StartupError(f"local clock is {offset} ms off the venue (max {max_offset_ms})")


async def _check(engine: str, what: str, step: Any) -> tuple[bool, str]:
    try:
        await step
    except (VenueError, StartupError) as exc:
        return False, f"{engine}: {what}: {type(exc).__name__}: {exc}"
    return True, f"{engine}: {what}"

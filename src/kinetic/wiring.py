"""Shared wiring: build an engine and its SimExchange the same way everywhere.

The daemon (``kinetic.app``) and the backtester (``kinetic.backtest``) both build their
engines here, so a backtest runs the very objects the daemon runs; only the driver
differs (ARCHITECTURE principle 1).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from config import UnifiedConfig
from kinetic.clock import Clock
from kinetic.costs import CostModel
from kinetic.domain import CapitalAllocation, Instrument, MarketType
from kinetic.engines.base import BaseEngine, EngineDeps, EntrySizer
from kinetic.engines.futures import FuturesEngine
from kinetic.engines.gate import AlwaysActive, StateGate
from kinetic.engines.spot import SpotEngine
from kinetic.errors import StartupError as StartupError  # re-exported
from kinetic.execution.oms import OrderManager
from kinetic.execution.recorder import Recorder
from kinetic.marketdata.store import CandleStore
from kinetic.portfolio.positions import PositionManager
from kinetic.risk.blacklist import SymbolBlacklist
from kinetic.risk.entry import EntryRules
from kinetic.risk.manager import RiskLimits, RiskManager
from kinetic.strategy.base import Strategy
from kinetic.strategy.registry import create_strategy
from kinetic.supervisor.allocator import CapitalAllocator
from kinetic.venues.sim import SimFuturesExchange, SimSpotExchange
from kinetic.venues.sim.instruments import default_instruments

MARKETS = {"spot": MarketType.SPOT, "futures": MarketType.FUTURES}


def starting_capital(config: UnifiedConfig, allocator: CapitalAllocator, engine: str) -> Decimal:
    """Return ``engine``'s share of ``initial_capital_usd`` (cents)."""
    pct = Decimal(str(allocator.allocated_pct(engine)))
    return (Decimal(str(config.initial_capital_usd)) * pct / Decimal(100)).quantize(Decimal("0.01"))


def make_sim_venue(
    config: UnifiedConfig,
    engine: str,
    symbols: list[str],
    clock: Clock,
    capital: Decimal,
    run_id: str = "",
    *,
    instruments: dict[str, Instrument] | None = None,
) -> Any:
    """Create the SimExchange an engine trades on, with the configured fees and slippage.

    ``run_id`` goes into the venue name and so into every trade id: each daemon run is a
    fresh simulation, and its fills must not collide with an earlier run's in the journal.
    """
    suffix = f"-{run_id}" if run_id else ""
    if instruments is None:
        instruments = default_instruments(MARKETS[engine], symbols)
    costs = CostModel.for_engine(config, engine)  # the engines price entries with it too
    if engine == "spot":
        return SimSpotExchange(
            instruments, clock, {"USDT": capital}, costs=costs, name=f"sim-spot{suffix}"
        )
    return SimFuturesExchange(instruments, clock, capital, costs=costs, name=f"sim-futures{suffix}")


def build_engine(
    name: str,
    config: UnifiedConfig,
    venue: Any,
    store: CandleStore,
    recorder: Recorder,
    clock: Clock,
    symbols: list[str],
    capital: Decimal,
    alloc: Callable[[], CapitalAllocation],
    can_trade: Callable[[], bool],
    heartbeat: Callable[[str], None],
    *,
    strategy: Strategy | None = None,
    instruments: dict[str, Instrument] | None = None,
    sizer: EntrySizer | None = None,
    gate: StateGate | None = None,
) -> BaseEngine:
    """Wire one engine from its collaborators (the configured strategy unless given).

    ``gate``: the trading-state authority (the daemon's ``TradingStates``); backtests and
    tests leave it ``AlwaysActive``.
    """
    market = MARKETS[name]
    blacklist = SymbolBlacklist(config.futures_blacklist_duration_minutes)
    cooldown = SymbolBlacklist(config.stop_cooldown_minutes)
    risk = _risk_manager(name, config, can_trade, blacklist, cooldown, clock)
    strategy_name = config.spot_strategy if name == "spot" else config.futures_strategy
    insts = instruments if instruments is not None else default_instruments(market, symbols)
    deps = EngineDeps(
        config=config,
        venue=venue,
        strategy=strategy
        if strategy is not None
        else configured_strategy(strategy_name, config, name),
        store=store,
        oms=OrderManager(name, venue, recorder, clock),
        positions=PositionManager(name, market, capital, quote=_quote(insts)),
        risk=risk,
        recorder=recorder,
        clock=clock,
        instruments=insts,
        symbols=symbols,
        allocation=alloc,
        heartbeat=heartbeat,
        sizer=sizer,
        gate=gate if gate is not None else AlwaysActive(),
        cooldown=cooldown,
    )
    if name == "spot":
        return SpotEngine(deps)
    return FuturesEngine(deps, blacklist)


def _risk_manager(
    name: str,
    config: UnifiedConfig,
    can_trade: Callable[[], bool],
    blacklist: SymbolBlacklist,
    cooldown: SymbolBlacklist,
    clock: Clock,
) -> RiskManager:
    costs = CostModel.for_engine(config, name)
    rules = entry_rules(config, name)
    if name == "spot":
        limits = RiskLimits(config.spot_max_positions, config.spot_min_confidence)
        return RiskManager(
            limits, can_trade, lambda s: cooldown.is_blacklisted(s, clock.time()), costs, rules
        )
    limits = RiskLimits(config.futures_max_positions, config.futures_min_confidence)

    def blocked(symbol: str) -> bool:
        now = clock.time()
        return blacklist.is_blacklisted(symbol, now) or cooldown.is_blacklisted(symbol, now)

    return RiskManager(limits, can_trade, blocked, costs, rules)


def entry_rules(config: UnifiedConfig, engine: str) -> EntryRules:
    """The stop, sizing and edge rules of ``engine`` from ``config`` (issue 15)."""
    spot = engine == "spot"
    return EntryRules(
        risk_min_pct=config.risk_per_trade_min_pct,
        risk_max_pct=config.risk_per_trade_pct,
        min_confidence=config.spot_min_confidence if spot else config.futures_min_confidence,
        min_stop_atr=config.min_stop_atr,
        min_edge_cost_ratio=config.min_edge_cost_ratio,
        holding_s=0.0 if spot else config.expected_holding_hours * 3600.0,
        sized_by_risk=config.risk_based_sizing,
    )


def configured_strategy(name: str, config: UnifiedConfig, engine: str) -> Strategy:
    """Build the registered strategy ``name`` with its ``strategy_params``.

    An unknown name, or a parameter the strategy does not take, is a ``StartupError``.
    """
    try:
        strategy = create_strategy(name, config, engine)
    except ValueError as exc:
        raise StartupError(f"{engine}_strategy: {exc}") from None
    params = config.strategy_params.get(name)
    if not params:
        return strategy
    configure = getattr(strategy, "with_params", None)
    if configure is None:
        raise StartupError(f"strategy_params.{name}: strategy {name!r} takes no parameters")
    try:
        configured: Strategy = configure({k: _param_text(v) for k, v in params.items()})
    except ValueError as exc:
        raise StartupError(f"strategy_params.{name}: {exc}") from None
    return configured


def _param_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _quote(instruments: dict[str, Instrument]) -> str:
    """The engine's cash asset (all of an engine's symbols share one quote)."""
    quotes = {i.quote for i in instruments.values()}
    return quotes.pop() if len(quotes) == 1 else "USDT"

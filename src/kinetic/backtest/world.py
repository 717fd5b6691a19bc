"""Build the backtest's object graph with the daemon's own wiring (``kinetic.wiring``).

One SimExchange, CandleStore and engine per enabled engine, the CapitalAllocator, and an
Orchestrator whose GlobalRiskMonitor runs on the backtest's ``ManualClock``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from typing import Any

from config import ConfigValidationError, UnifiedConfig
from kinetic.backtest.options import BacktestOptions, Units, unit_step
from kinetic.backtest.recorder import BacktestRecorder
from kinetic.clock import ManualClock
from kinetic.costs import CostModel
from kinetic.domain import CapitalAllocation, Instrument, MarketType
from kinetic.engines.base import BaseEngine, EntrySizer
from kinetic.engines.futures import FuturesEngine
from kinetic.marketdata.store import CandleStore
from kinetic.strategy.base import Strategy
from kinetic.supervisor.allocator import CapitalAllocator
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.risk_monitor import GlobalRiskMonitor
from kinetic.venues.base import UnknownSymbol
from kinetic.venues.sim.instruments import default_instruments
from kinetic.wiring import MARKETS, build_engine, configured_strategy, make_sim_venue
from kinetic.wiring import starting_capital as engine_capital

FINE = Decimal("0.00000001")
_ZERO = Decimal(0)
NO_CAP = Decimal("1e18")
WINDOW = 600  # candles kept per symbol: strategies keep their own incremental state
# final orders, and fills per symbol, each SimExchange keeps queryable: the OMS reads back
# only its recent fills, and the recorder counts every order and fill for the report (a
# paper venue's 20,000, ``venues.sim.book``, held ~15 MiB on the bench's confluence run)
VENUE_HISTORY = 1_000


@dataclass
class EngineSlot:
    """One engine with the venue and store the driver feeds."""

    name: str
    engine: BaseEngine
    venue: Any
    store: CandleStore
    capital: Decimal


@dataclass
class World:
    """Everything a backtest drives."""

    config: UnifiedConfig
    clock: ManualClock
    recorder: BacktestRecorder
    orchestrator: Orchestrator
    slots: list[EngineSlot]

    @property
    def start_equity(self) -> Decimal:
        return sum((s.capital for s in self.slots), Decimal(0))


def instruments_for(market: MarketType, symbols: list[str], units: Units) -> dict[str, Instrument]:
    """Exchange rules for known symbols (generic fine ones otherwise), then ``--units``."""
    out: dict[str, Instrument] = {}
    for symbol in symbols:
        try:
            out[symbol] = default_instruments(market, [symbol])[symbol]
        except UnknownSymbol:
            base = symbol[:-4] if symbol.endswith("USDT") else symbol
            out[symbol] = Instrument(symbol, base, "USDT", market, FINE, FINE, FINE, Decimal(0))
    # whole/fractional/a step: the reference-backtester conventions, without a lot-size cap
    step = unit_step(units)
    if step is None:
        return out
    return {s: replace(i, step_size=step, min_qty=step, max_qty=NO_CAP) for s, i in out.items()}


@dataclass(frozen=True, slots=True)
class FillPriceSizer:
    """Size an entry at the price the SimExchange will fill it at, leaving room for fees.

    The venue's last price is the signal bar's close (``--fill close``) or the next bar's
    open (``--fill next_open``); slippage and one tick are added, as the venue rounds the
    slipped price against the taker (none without slippage on a price on the tick grid).
    ``--fee-fixed`` is set aside from the margin first. With ``--stake`` every entry is
    that quantity, whatever the margin. Its fields are public: the driver's
    fast-forward reads them to tell when no entry can be afforded (``affordable``).
    """

    venue: Any
    instruments: dict[str, Instrument]
    slippage: Decimal
    fee: Decimal
    spot: bool
    fixed: Decimal  # --fee-fixed, set aside from the margin
    stake: Decimal | None  # --stake: every entry is this quantity
    # ``1 + slippage`` and ``1 + fee``, computed once (the same Decimals every call)
    one_slip: Decimal = field(init=False, repr=False, compare=False)
    one_fee: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "one_slip", 1 + self.slippage)
        object.__setattr__(self, "one_fee", 1 + self.fee)

    def __call__(self, symbol: str, margin: Decimal, leverage: int) -> Decimal:
        if self.stake is not None:
            return self.stake
        margin -= self.fixed
        last = self.venue.last_price(symbol)
        if last is None or last <= _ZERO:
            return Decimal(0)
        slip, fee = self.slippage, self.fee
        tick = self.instruments[symbol].tick_size
        if not slip and last % tick == _ZERO:
            tick = Decimal(0)  # the venue fills at ``last`` itself: no rounding to allow for
        price = last * self.one_slip + tick
        per_unit = price * self.one_fee if self.spot else price * (Decimal(1) / leverage + fee)
        qty: Decimal = margin / per_unit
        return qty


def fill_price_sizer(
    venue: Any,
    config: UnifiedConfig,
    engine: str,
    instruments: dict[str, Instrument],
    stake: float | None = None,
    fee_fixed: float | None = None,
) -> EntrySizer:
    """The ``FillPriceSizer`` of ``engine`` (its venue's and the engines' cost model)."""
    costs = CostModel.for_engine(config, engine)
    fixed = Decimal(str(fee_fixed or 0))
    fixed_qty = Decimal(str(stake)) if stake is not None else None
    spot = engine == "spot"
    return FillPriceSizer(
        venue, instruments, costs.slippage, costs.taker_fee, spot, fixed, fixed_qty
    )


def _strategy(config: UnifiedConfig, engine: str, opts: BacktestOptions) -> Strategy:
    name = config.spot_strategy if engine == "spot" else config.futures_strategy
    try:
        strategy = configured_strategy(name, config, engine)
    except Exception as exc:  # StartupError: unknown strategy name
        raise ConfigValidationError(f"--strategy: {exc}") from None
    params = dict(opts.params)
    if opts.allow_short:
        params["allow_short"] = "true"
    if not params:
        return strategy
    configure = getattr(strategy, "with_params", None)
    if configure is None:
        raise ConfigValidationError(f"--param: strategy {name!r} takes no parameters")
    try:
        configured: Strategy = configure(params)
    except ValueError as exc:
        raise ConfigValidationError(f"--param: {exc}") from None
    return configured


def wants_all_in(config: UnifiedConfig, opts: BacktestOptions) -> bool:
    """True when the run sizes entries all-in (the strategy asks for it unless overridden)."""
    if opts.all_in is not None:
        return opts.all_in
    return any(getattr(_strategy(config, e, opts), "all_in", False) for e in opts.engines)


def build_world(
    config: UnifiedConfig, opts: BacktestOptions, symbols: list[str], start_s: float
) -> World:
    """Wire engines, venues, stores, allocator and orchestrator for one run."""
    clock = ManualClock(start_s)
    recorder = BacktestRecorder(clock_ms=clock.time_ms)
    allocator = CapitalAllocator(config)
    # the orchestrator's global monitor, built first: the engines' risk managers ask its
    # ``can_open_new_trade`` itself (no closure per entry)
    monitor = GlobalRiskMonitor(config, clock)
    holder: dict[str, Orchestrator] = {}
    slots: list[EngineSlot] = []
    for name in allocator.enabled:
        capital = engine_capital(config, allocator, name)
        insts = instruments_for(MARKETS[name], symbols, opts.units)
        venue = make_sim_venue(config, name, symbols, clock, capital, instruments=insts)
        venue.keep_history(VENUE_HISTORY, VENUE_HISTORY)
        store = CandleStore(maxlen=WINDOW)
        engine = build_engine(
            name, config, venue, store, recorder, clock, symbols, capital,
            _allocation(holder, name), monitor.can_open_new_trade,
            lambda _n: None, strategy=_strategy(config, name, opts), instruments=insts,
            sizer=fill_price_sizer(venue, config, name, insts, opts.stake, opts.fee_fixed),
        )  # fmt: skip
        if opts.fee_fixed:
            venue.fixed_fee = Decimal(str(opts.fee_fixed))
        if isinstance(engine, FuturesEngine):
            engine.sole_venue_user = True  # only this engine touches the SimExchange
        slots.append(EngineSlot(name, engine, venue, store, capital))
    engines: dict[str, Any] = {s.name: s.engine for s in slots}
    orch = Orchestrator(
        config, engines, recorder, clock, clock, allocator=allocator, risk_monitor=monitor
    )
    holder["o"] = orch
    for slot in slots:  # the orchestrator's own method now that it exists: no closure call
        slot.engine.d.allocation = partial(orch.get_allocation, slot.name)
    return World(config, clock, recorder, orch, slots)


def _allocation(holder: dict[str, Orchestrator], name: str) -> Any:
    def alloc() -> CapitalAllocation:
        return holder["o"].get_allocation(name)

    return alloc

"""Pure domain types shared by every layer. No I/O here.

Money and quantities are ``Decimal`` at the order and accounting boundary; candle
prices are floats because indicators work on float arrays.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

_T = TypeVar("_T")

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@lru_cache(maxsize=1024, typed=True)  # 3 and 3.0 print differently
def exact(x: float | int) -> Decimal:
    """The Decimal a float prints as (config percentages repeat: converted once each)."""
    return Decimal(str(x))


def quick_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an ``__init__`` that sets each slot through its
    descriptor: the same signature, defaults and result, in about half the time of the
    generated one (``object.__setattr__`` by name per field). For the types built once or
    more per order (intents, fills, plans, trades). Fields with a default factory, and
    classes with ``__post_init__``, are not supported (refused here).
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    params: list[str] = []
    scope: dict[str, Any] = {}
    for f in fields:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"quick_init: {cls.__name__}.{f.name} is not a plain field")
        scope[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            scope[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init: {cls.__name__} has __post_init__")
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields)
    namespace: dict[str, Any] = {}
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", scope, namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def check_twin(twin: type, cls: type) -> None:
    """Refuse (TypeError, at import, also under ``python -O``) an unfrozen twin of the
    frozen slots dataclass ``cls`` whose slots are not ``cls``'s fields in order.

    Hot paths (stepped backtest bars, strategies' signals) store a twin's slots one by
    one and switch its class to ``cls``: the object ``cls(...)`` builds, without the
    frozen ``object.__setattr__`` per field. CPython refuses the switch unless the
    layouts match. A ``__post_init__`` does not run that way: the builders of a class
    that has one (``Signal``: the confidence range) say why it holds or call it.
    """
    names = tuple(f.name for f in dataclasses.fields(cls))
    if getattr(cls, "__slots__", None) != names or getattr(twin, "__slots__", None) != names:
        raise TypeError(f"{twin.__qualname__}: its slots must be {cls.__name__}'s fields {names}")


def builder(cls: type[_T]) -> Callable[..., _T]:
    """A function that builds ``cls(...)`` from the same positional arguments and defaults,
    through an unfrozen twin with ``cls``'s slots switched to ``cls`` (``check_twin``): no
    descriptor call per field, about 40 % of the cost of a ``quick_init`` ``__init__``.
    For slotted dataclasses built once or more per order. Fields with a default factory,
    keyword-only or non-init fields, and classes with ``__post_init__`` are refused.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = tuple(f.name for f in fields)
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": names})
    check_twin(twin, cls)
    if hasattr(cls, "__post_init__") or cls.__bases__ != (object,):
        raise TypeError(f"builder: {cls.__name__} has __post_init__ or a base class")
    params: list[str] = []
    scope: dict[str, Any] = {"_Twin": twin, "_cls": cls}
    for f in fields:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"builder: {cls.__name__}.{f.name} is not a plain field")
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            scope[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    obj.{n} = {n}\n" for n in names)
    source = f"def build({', '.join(params)}):\n    obj = _Twin()\n{body}"
    namespace: dict[str, Any] = {}
    exec(f"{source}    obj.__class__ = _cls\n    return obj\n", scope, namespace)  # noqa: S102
    build: Callable[..., _T] = namespace["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    return build


def as_decimal(x: Decimal | float | int) -> Decimal:
    """``x`` itself when it is a Decimal, else the Decimal it prints as (``exact``)."""
    return x if isinstance(x, Decimal) else exact(x)


class Side(enum.StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class PositionSide(enum.StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def entry_side(self) -> Side:
        return Side.BUY if self is PositionSide.LONG else Side.SELL

    @property
    def exit_side(self) -> Side:
        return self.entry_side.opposite

    @property
    def sign(self) -> int:
        return 1 if self is PositionSide.LONG else -1


class OrderType(enum.StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    # a stop that becomes a limit at ``price`` once ``stop_price`` trades (Binance
    # spot's STOP_LOSS_LIMIT, the exchange-side stop of spot positions there)
    STOP_LIMIT = "STOP_LIMIT"


class OrderStatus(enum.StrEnum):
    PENDING = "PENDING"  # journaled, not yet acknowledged by the venue
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"  # outcome unknown: reconcile by client order id
    NOT_SENT = "NOT_SENT"  # dry_run: journaled with its reason, never sent
    VALIDATED = "VALIDATED"  # validate_only: accepted by the venue's test flag, never placed

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def never_placed(self) -> bool:
        """Final without reaching the book: refused, or a dry_run / validate_only order."""
        return self in (OrderStatus.REJECTED, OrderStatus.NOT_SENT, OrderStatus.VALIDATED)


_TERMINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.NOT_SENT,
        OrderStatus.VALIDATED,
    }
)


class MarketType(enum.StrEnum):
    SPOT = "spot"
    FUTURES = "futures"


class EngineType(enum.StrEnum):
    SPOT = "spot"
    FUTURES = "futures"


class EngineStatus(enum.StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    ERROR = "error"
    RESTARTING = "restarting"


class TradingState(enum.StrEnum):
    """What an engine (or the whole daemon) may send.

    ``ACTIVE``: everything. ``REDUCE_ONLY``: exits and protection only. ``HALTED``: nothing
    new except protective stops for open positions (resting stops stay and stay watched).
    """

    ACTIVE = "ACTIVE"
    REDUCE_ONLY = "REDUCE_ONLY"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        return _STATE_SEVERITY[self]

    @property
    def allows_entries(self) -> bool:
        return self is TradingState.ACTIVE

    @property
    def allows_exits(self) -> bool:
        return self is not TradingState.HALTED

    def worst(self, other: TradingState) -> TradingState:
        """The stricter of two states."""
        return self if self.severity >= other.severity else other


_STATE_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCE_ONLY: 1, TradingState.HALTED: 2}


class Direction(enum.StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"
    FLAT = "FLAT"


class Regime(enum.StrEnum):
    TRENDING = "trending"
    TRANSITIONAL = "transitional"
    SIDEWAYS = "sideways"


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed OHLCV bar. ``open_time_ms`` is the bar's open time (UTC ms)."""

    symbol: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules for one symbol on one venue (tick, step, minimums)."""

    symbol: str
    base: str
    quote: str
    market: MarketType
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_qty: Decimal = Decimal("1e12")


@quick_init
@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What an engine wants sent; the OMS turns it into an ``Order``."""

    engine: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    client_order_id: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    leverage: int = 1
    reason: str = ""


@dataclass(slots=True)
class Order:
    """An order as known to the venue and the journal."""

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    status: OrderStatus
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    venue_order_id: str | None = None
    filled_qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_qty


@quick_init
@dataclass(frozen=True, slots=True)
class Fill:
    """One execution against an order."""

    trade_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    ts_ms: int
    is_maker: bool = False
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """A futures position as the venue reports it."""

    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    leverage: int
    isolated_margin: Decimal
    liquidation_price: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """A funding payment the venue booked to the account (quote currency, signed).

    ``amount`` > 0 was received, < 0 paid. ``id`` is the venue's id of the payment,
    unique per account (Binance USD-M: the income row's ``tranId``).
    """

    symbol: str
    amount: Decimal
    ts_ms: int
    id: str


@dataclass(frozen=True, slots=True)
class FundingRate:
    """A perpetual's funding rate settled at ``ts_ms`` (a fraction of the notional).

    Market data, not money booked to an account: longs pay ``rate`` x notional when it
    is positive, shorts receive it (and the other way round when it is negative).
    """

    symbol: str
    ts_ms: int
    rate: float


@dataclass(slots=True)
class Position:
    """An engine's open position with its protective levels."""

    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    opened_ms: int
    stop_price: Decimal
    take_profit: Decimal | None = None
    leverage: int = 1
    fees: Decimal = ZERO
    best_price: Decimal = ZERO  # most favourable price seen, for the trailing stop
    trailing_active: bool = False
    liquidation_price: Decimal | None = None
    confidence: int = 0
    entry_reason: str = ""

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return (price - self.entry_price) * self.quantity * self.side.sign

    def notional(self, price: Decimal) -> Decimal:
        return price * self.quantity


@quick_init
@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A finished round trip."""

    engine: str
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    opened_ms: int
    closed_ms: int
    pnl: Decimal  # net of fees
    fees: Decimal
    exit_reason: str
    leverage: int = 1


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's decision for one symbol on one closed candle."""

    symbol: str
    direction: Direction
    confidence: int  # 0..100
    price: float
    ts_ms: int
    atr: float = 0.0
    regime: Regime | None = None
    reason: str = ""
    components: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.confidence <= 100:
            raise ValueError(f"confidence must be within 0..100, got {self.confidence}")


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """One stored equity sample of an engine."""

    engine: str
    ts_ms: int
    equity: Decimal
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    exposure: Decimal


@quick_init
@dataclass(frozen=True, slots=True)
class CapitalAllocation:
    engine_name: str
    allocated_pct: float
    allocated_usd: Decimal
    current_exposure_usd: Decimal
    available_usd: Decimal


@dataclass(slots=True)
class EngineHealth:
    engine_name: str
    status: EngineStatus
    last_heartbeat: float | None  # seconds since epoch, supervision clock
    restart_count: int = 0
    last_error: str | None = None
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """What one engine reports for the combined status."""

    name: str
    status: EngineStatus
    equity_usd: Decimal
    realized_pnl_usd: Decimal
    unrealized_pnl_usd: Decimal
    open_positions: int
    fills: int
    last_heartbeat: float | None
    restart_count: int


@dataclass(frozen=True, slots=True)
class PortfolioStatus:
    """Combined portfolio status across engines (seed 000 data model)."""

    total_value_usd: Decimal
    spot_value_usd: Decimal
    futures_value_usd: Decimal
    spot_pnl_usd: Decimal
    futures_pnl_usd: Decimal
    total_pnl_usd: Decimal
    total_pnl_pct: float
    spot_positions: int
    futures_positions: int
    circuit_breaker_active: bool
    engines_status: dict[str, EngineStatus]
    engines: dict[str, EngineSnapshot] = field(default_factory=dict)

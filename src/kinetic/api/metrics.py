"""Prometheus ``/metrics``: the daemon's state read at scrape time, plus two histograms.

``DaemonCollector`` walks the orchestrator and its engines when Prometheus scrapes (no
background sampling): equity, cash, PnL, exposure, positions, open orders by state,
fills, trading states, breakers, drift, heartbeats and restarts, venue rate-limit use
and bans, market-data age. ``Observers`` is wired by the composition root into the hot
path through three tiny hooks and keeps the rest: the candle-to-order and order
round-trip latency histograms, order rejects and reconciliation actions.

Labels are bounded: engine, scope, state, status, symbol and asset come from the
configuration (watchlists, two engines), venue and budget from the venue clients,
reconciliation ``action`` from the takeover's fixed set (capped). No client order id,
price or free text ever becomes a label.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kinetic.api import snapshot
from kinetic.domain import Candle, ClosedTrade, Fill, Order, OrderIntent, OrderStatus, OrderType
from kinetic.domain import TradingState as TS
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.venues.http import http_clients

# latency buckets: a local replay answers in well under a millisecond, a venue in 10s of ms
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
MAX_ACTIONS = 32  # distinct reconciliation action labels; more become "other"
MAX_IN_FLIGHT = 1000  # send start times kept (an order whose send raised never reports)
STOP_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
# the classic text format every Prometheus (2.x and 3.x) reads; our names need no escaping
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

OrchestratorSource = Callable[[], Orchestrator | None]


class Observers:
    """The hot-path side of the metrics: OMS, candle store and recorder hooks.

    Every method is synchronous, O(1) and never raises into the caller.
    """

    def __init__(
        self, registry: CollectorRegistry, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self._timer = timer
        self._arrived: dict[tuple[str, str], float] = {}  # (engine, symbol) -> arrival
        self._started: dict[str, float] = {}  # client order id -> send start
        self.candle_to_order = Histogram(
            "kinetic_candle_to_order_seconds",
            "Wall time from a closed candle reaching the engine's store to the first "
            "non-stop order sent after it for that symbol",
            ["engine"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.round_trip = Histogram(
            "kinetic_order_roundtrip_seconds",
            "Wall time from handing an order to the venue client to its answer "
            "(retries and a look-up by client id included)",
            ["engine"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.rejects = Counter(
            "kinetic_order_rejects", "Orders the venue rejected", ["engine"], registry=registry
        )
        self.reconciliations = Counter(
            "kinetic_reconciliation_actions",
            "Start-up takeover actions (adopt, close, cancel orphan, resize...)",
            ["engine", "action"], registry=registry,
        )  # fmt: skip
        self.trades = Counter(
            "kinetic_trades_closed", "Closed round trips", ["engine"], registry=registry
        )
        self._actions: set[str] = set()
        self._children: dict[tuple[int, str], Any] = {}  # (family id, engine) -> labelled child

    def _child(self, family: Histogram | Counter, engine: str) -> Any:
        """``family.labels(engine)``, cached: the hot path skips the registry's lock."""
        key = (id(family), engine)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(engine)
        return child

    # ------------------------------------------------------------------ candle store
    def candle_listener(self, engine: str) -> Callable[[Candle], None]:
        """The ``CandleStore.on_add`` hook of ``engine``'s store."""

        def arrived(candle: Candle) -> None:
            self._arrived[(engine, candle.symbol)] = self._timer()

        return arrived

    # ------------------------------------------------------------------ OMS (OrderObserver)
    def before_send(self, engine: str, intent: OrderIntent) -> None:
        now = self._timer()
        if len(self._started) >= MAX_IN_FLIGHT:
            self._started.clear()
        self._started[intent.client_order_id] = now
        if intent.order_type in STOP_TYPES:
            return  # a protective stop answers a fill, not a candle
        arrived = self._arrived.pop((engine, intent.symbol), None)
        if arrived is not None:
            self._child(self.candle_to_order, engine).observe(max(0.0, now - arrived))

    def after_send(self, engine: str, intent: OrderIntent, order: Order) -> None:
        started = self._started.pop(intent.client_order_id, None)
        if started is not None:
            self._child(self.round_trip, engine).observe(max(0.0, self._timer() - started))
        if order.status is OrderStatus.REJECTED:
            self._child(self.rejects, engine).inc()

    # ------------------------------------------------------------------ recorder (RecordListener)
    def on_fill(self, engine: str, fill: Fill) -> None:
        """Fills are counted from the books at scrape time (``kinetic_fills_total``)."""

    def on_trade(self, trade: ClosedTrade) -> None:
        self.trades.labels(trade.engine).inc()  # exit reasons are free text: no label

    def on_event(
        self, kind: str, message: str, engine: str | None, data: dict[str, Any] | None
    ) -> None:
        if kind != "takeover" or not data or data.get("action") in (None, "completed"):
            return
        action = str(data["action"])
        if action not in self._actions:
            if len(self._actions) >= MAX_ACTIONS:
                action = "other"
            else:
                self._actions.add(action)
        self.reconciliations.labels(engine or "", action).inc()


class DaemonCollector(Collector):
    """Every state family, read from the orchestrator at scrape time."""

    def __init__(self, source: OrchestratorSource) -> None:
        self._source = source

    def describe(self) -> list[Metric]:
        return []  # families are produced at collect time only

    def collect(self) -> Iterator[Metric]:
        orch = self._source()
        fams = _Families()
        if orch is not None:
            _portfolio(fams, orch)
            _engines(fams, orch)
            _risk(fams, orch)
            _venues(fams, orch)
        yield from fams.all()


class _Families:
    """The state families, created empty so every family is exposed even without data."""

    def __init__(self) -> None:
        g, c = GaugeMetricFamily, CounterMetricFamily
        e = ["engine"]
        self.equity = g("kinetic_equity_usd", "Engine equity (cash + positions)", labels=e)
        self.cash = g("kinetic_cash_usd", "Engine cash (quote currency)", labels=e)
        self.realized = g("kinetic_pnl_realized_usd", "Realized PnL net of fees", labels=e)
        self.unrealized = g("kinetic_pnl_unrealized_usd", "Unrealized PnL", labels=e)
        self.total = g("kinetic_portfolio_equity_usd", "Portfolio equity, all engines")
        self.daily = g("kinetic_pnl_daily_usd", "Portfolio PnL since the UTC day started")
        self.drawdown = g("kinetic_drawdown_pct", "Portfolio drawdown from its peak, percent")
        self.exposure = g("kinetic_exposure_usd", "Exposure by engine (spot value, margin)",
                          labels=e)  # fmt: skip
        self.asset = g("kinetic_exposure_asset_usd", "Exposure by base asset", labels=["asset"])
        self.positions = g("kinetic_positions_open", "Open positions", labels=e)
        self.orders = g("kinetic_orders_open", "Open orders by state", labels=["engine", "status"])
        self.fills = c("kinetic_fills", "Fills applied since the engine started", labels=e)
        self.state = g("kinetic_trading_state", "1 for the scope's current trading state",
                       labels=["scope", "state"])  # fmt: skip
        self.breaker = g("kinetic_circuit_breaker_active", "Daily-loss breaker in force")
        self.hold = g("kinetic_drawdown_hold_active", "Drawdown hold latched until cleared")
        self.drift = g("kinetic_drift_detected", "1 while books and venue differ", labels=e)
        self.heartbeat = g("kinetic_engine_heartbeat_age_seconds", "Seconds since the last "
                           "heartbeat", labels=e)  # fmt: skip
        self.restarts = c("kinetic_engine_restarts", "Supervisor restarts", labels=e)
        self.up = g("kinetic_engine_healthy", "1 while the engine's heartbeat is fresh", labels=e)
        v = ["engine", "venue", "budget"]
        self.weight = g(
            "kinetic_venue_rate_limit_used",
            "Rate-limit budget used in the "
            "current window (weight, orders, or the decaying counter)",
            labels=v,
        )
        self.limit = g("kinetic_venue_rate_limit_max", "Rate-limit budget size", labels=v)
        self.bans = c("kinetic_venue_bans", "IP bans (HTTP 418) since start",
                      labels=["engine", "venue"])  # fmt: skip
        self.paused = g("kinetic_venue_paused_seconds", "Seconds left of a venue-imposed pause",
                        labels=["engine", "venue"])  # fmt: skip
        self.staleness = g(
            "kinetic_market_data_age_seconds",
            "Market-clock seconds since the last closed candle of the symbol closed",
            labels=["engine", "symbol"],
        )

    def all(self) -> list[Metric]:
        return list(vars(self).values())


def _portfolio(f: _Families, orch: Orchestrator) -> None:
    t = snapshot.totals(orch)
    f.total.add_metric([], t.equity)
    f.daily.add_metric([], t.daily_pnl)
    f.drawdown.add_metric([], t.drawdown_pct)
    by_engine, by_asset = snapshot.exposure_by(orch)
    for name, value in by_engine.items():
        f.exposure.add_metric([name], value)
    for asset, value in sorted(by_asset.items()):
        f.asset.add_metric([asset], value)


def _engines(f: _Families, orch: Orchestrator) -> None:
    health = orch.health_monitor.engine_health
    for name, engine in snapshot.engines(orch).items():
        prices = engine.prices()
        pm = engine.d.positions
        f.equity.add_metric([name], float(pm.equity(prices)))
        f.cash.add_metric([name], float(pm.cash))
        f.realized.add_metric([name], float(pm.realized_pnl))
        f.unrealized.add_metric([name], float(pm.unrealized(prices)))
        f.positions.add_metric([name], len(pm.positions))
        f.fills.add_metric([name], pm.fill_count)
        by_status = Tally(str(o.status) for o in engine.d.oms.open_orders())
        for status, count in sorted(by_status.items()):
            f.orders.add_metric([name, status], count)
        f.drift.add_metric([name], 1.0 if engine.drift is not None and engine.drift.drifting else 0)
        age = snapshot.heartbeat_age(orch, name)
        if age is not None:
            f.heartbeat.add_metric([name], age)
        h = health.get(name)
        f.restarts.add_metric([name], h.restart_count if h else 0)
        f.up.add_metric([name], 1.0 if h is not None and h.healthy else 0.0)
        now_ms = engine.d.clock.time_ms()
        for symbol in engine.d.symbols:
            last = engine.d.store.last(symbol)
            if last is not None:
                age_s = max(0.0, (now_ms - last.close_time_ms) / 1e3)
                f.staleness.add_metric([name, symbol], age_s)


def _risk(f: _Families, orch: Orchestrator) -> None:
    for scope in orch.states.snapshot():
        current = orch.states.state(scope)
        for state in TS:
            f.state.add_metric([scope, str(state)], 1.0 if state is current else 0.0)
    rm = orch.risk_monitor
    f.breaker.add_metric([], 1.0 if rm.breaker_in_force() else 0.0)
    f.hold.add_metric([], 1.0 if rm.drawdown_latched else 0.0)


def _venues(f: _Families, orch: Orchestrator) -> None:
    for name, engine in snapshot.engines(orch).items():
        for client in http_clients(engine.d.venue):
            usage = getattr(client.limiter, "usage", None)
            for budget, (used, size) in (usage() if usage is not None else {}).items():
                f.weight.add_metric([name, client.venue, budget], used)
                f.limit.add_metric([name, client.venue, budget], size)
            f.bans.add_metric([name, client.venue], client.gate.bans)
            f.paused.add_metric([name, client.venue], client.gate.remaining)


class DaemonMetrics:
    """One registry per daemon: the scrape-time collector and the hot-path observers."""

    def __init__(
        self, source: OrchestratorSource, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DaemonCollector(source))
        self.observers = Observers(self.registry, timer)

    def attach(self, orch: Orchestrator, listeners: list[Any]) -> None:
        """Hook the observers in: each engine's OMS and candle store, the recorder's listeners.

        Called by the composition root once the engines exist (``listeners`` is the
        ``DbRecorder.listeners`` list).
        """
        for name, engine in snapshot.engines(orch).items():
            engine.d.oms.observer = self.observers
            engine.d.store.on_add = self.observers.candle_listener(name)
        listeners.append(self.observers)

    def render(self) -> bytes:
        """The exposition text of every family."""
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        """``GET /metrics``."""
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE})

"""Prometheus metrics on the real engines (engine test kit): every family is exposed and
parses with prometheus_client's own text parser, values follow the books, the trading
states and the hooks, and labels stay bounded."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from kinetic.api.metrics import MAX_ACTIONS, DaemonMetrics
from kinetic.domain import (
    Direction,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Regime,
    Side,
    TradingState,
)
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.trading_states import DAEMON
from tests.fakes import MemorySink
from tests.unit.engines.kit import World, futures_world, spot_world

ETH, BTC = "ETHUSDT", "BTCUSDT"

# every family issue 12 lists (names as exposed: counters end in _total)
FAMILIES = {
    "kinetic_equity_usd", "kinetic_cash_usd", "kinetic_portfolio_equity_usd",
    "kinetic_pnl_realized_usd", "kinetic_pnl_unrealized_usd", "kinetic_pnl_daily_usd",
    "kinetic_drawdown_pct", "kinetic_exposure_usd", "kinetic_exposure_asset_usd",
    "kinetic_positions_open", "kinetic_orders_open", "kinetic_fills", "kinetic_order_rejects",
    "kinetic_circuit_breaker_active", "kinetic_drawdown_hold_active", "kinetic_trading_state",
    "kinetic_drift_detected", "kinetic_engine_heartbeat_age_seconds", "kinetic_engine_restarts",
    "kinetic_venue_rate_limit_used", "kinetic_venue_bans", "kinetic_market_data_age_seconds",
    "kinetic_candle_to_order_seconds", "kinetic_order_roundtrip_seconds",
    "kinetic_reconciliation_actions",
}  # fmt: skip


class Timer:
    """A hand-driven clock for the latency hooks."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _orchestrator(*worlds: World) -> Orchestrator:
    w0 = worlds[0]
    engines = {w.engine.name: w.engine for w in worlds}
    return Orchestrator(w0.config, dict(engines), MemorySink(), w0.clock, w0.clock)  # type: ignore[arg-type]


def _parse(metrics: DaemonMetrics) -> dict[str, list[Sample]]:
    text = metrics.render().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    hits = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(hits) == 1, (name, labels, samples)
    return hits[0]


async def _enter_futures(w: World, price: float = 2000.0) -> None:
    c = w.candle(ETH, price, price, price, price)
    w.strategy.at(ETH, c.open_time_ms, Direction.LONG, 80, 12.0, Regime.TRENDING, "e")
    await w.step(c)


async def test_every_family_parses_and_follows_the_books() -> None:
    fw, sw = futures_world(), spot_world()
    await _enter_futures(fw)
    orch = _orchestrator(fw, sw)
    orch.health_monitor.register("futures")
    metrics = DaemonMetrics(lambda: orch)
    fams = _parse(metrics)
    assert set(fams) >= FAMILIES, sorted(FAMILIES - set(fams))
    pm = fw.engine.d.positions
    assert _value(fams["kinetic_positions_open"], "kinetic_positions_open", engine="futures") == 1
    assert _value(fams["kinetic_positions_open"], "kinetic_positions_open", engine="spot") == 0
    assert _value(fams["kinetic_cash_usd"], "kinetic_cash_usd", engine="futures") == float(pm.cash)
    total = _value(fams["kinetic_portfolio_equity_usd"], "kinetic_portfolio_equity_usd")
    per = sum(s.value for s in fams["kinetic_equity_usd"])
    assert abs(total - per) < 1e-6
    assert _value(fams["kinetic_fills"], "kinetic_fills_total", engine="futures") == pm.fill_count
    # the futures entry rests a reduce-only stop: one open order in state NEW
    assert _value(fams["kinetic_orders_open"], "kinetic_orders_open", engine="futures",
                  status="NEW") == 1  # fmt: skip
    eth = _value(fams["kinetic_exposure_asset_usd"], "kinetic_exposure_asset_usd", asset="ETH")
    assert eth > 0
    restarts = fams["kinetic_engine_restarts"]
    assert _value(restarts, "kinetic_engine_restarts_total", engine="futures") == 0


async def test_trading_state_family_follows_the_kill_switch_state() -> None:
    fw = futures_world()
    orch = _orchestrator(fw)
    metrics = DaemonMetrics(lambda: orch)
    state = _parse(metrics)["kinetic_trading_state"]
    assert _value(state, "kinetic_trading_state", scope=DAEMON, state="ACTIVE") == 1
    await orch.states.escalate(DAEMON, TradingState.HALTED, "kill switch: test", "operator")
    state = _parse(metrics)["kinetic_trading_state"]
    assert _value(state, "kinetic_trading_state", scope=DAEMON, state="HALTED") == 1
    assert _value(state, "kinetic_trading_state", scope=DAEMON, state="ACTIVE") == 0
    # the engine's effective state is the stricter of its own and the daemon's
    assert _value(state, "kinetic_trading_state", scope="futures", state="HALTED") == 1


def _intent(cid: str, order_type: OrderType = OrderType.MARKET) -> OrderIntent:
    return OrderIntent("futures", ETH, Side.BUY, order_type, Decimal("1"), cid)


def _order(cid: str, status: OrderStatus) -> Order:
    return Order(cid, ETH, Side.BUY, OrderType.MARKET, Decimal("1"), status)


def test_latency_hooks_measure_candle_to_order_and_round_trip_once_each() -> None:
    timer = Timer()
    metrics = DaemonMetrics(lambda: None, timer)
    obs = metrics.observers
    on_add = obs.candle_listener("futures")
    fw = futures_world()
    on_add(fw.candle(ETH, 1, 1, 1, 1))
    timer.now += 0.004
    obs.before_send("futures", _intent("a"))
    timer.now += 0.02
    obs.after_send("futures", _intent("a"), _order("a", OrderStatus.FILLED))
    # a second order after the same candle is not "candle to order"; a stop never is
    obs.before_send("futures", _intent("b"))
    obs.after_send("futures", _intent("b"), _order("b", OrderStatus.REJECTED))
    on_add(fw.candle(ETH, 1, 1, 1, 1))
    obs.before_send("futures", _intent("c", OrderType.STOP_MARKET))
    fams = _parse(metrics)
    c2o = fams["kinetic_candle_to_order_seconds"]
    assert _value(c2o, "kinetic_candle_to_order_seconds_count", engine="futures") == 1
    assert abs(_value(c2o, "kinetic_candle_to_order_seconds_sum", engine="futures") - 0.004) < 1e-9
    rt = fams["kinetic_order_roundtrip_seconds"]
    assert _value(rt, "kinetic_order_roundtrip_seconds_count", engine="futures") == 2
    assert abs(_value(rt, "kinetic_order_roundtrip_seconds_sum", engine="futures") - 0.02) < 1e-9
    rejects = fams["kinetic_order_rejects"]
    assert _value(rejects, "kinetic_order_rejects_total", engine="futures") == 1


def test_reconciliation_actions_counted_with_a_bounded_action_label() -> None:
    metrics = DaemonMetrics(lambda: None)
    obs = metrics.observers
    obs.on_event("takeover", "ETHUSDT: adopted", "futures", {"action": "adopt"})
    obs.on_event("takeover", "ETHUSDT: adopted", "futures", {"action": "adopt"})
    obs.on_event("takeover", "done", "futures", {"action": "completed"})
    obs.on_event("kill_switch", "on", None, {"active": True})
    for i in range(MAX_ACTIONS + 5):
        obs.on_event("takeover", "x", "spot", {"action": f"weird-{i}"})
    samples = _parse(metrics)["kinetic_reconciliation_actions"]
    totals = [s for s in samples if s.name.endswith("_total")]
    assert _value(samples, "kinetic_reconciliation_actions_total", engine="futures",
                  action="adopt") == 2  # fmt: skip
    actions = {s.labels["action"] for s in totals}
    assert "completed" not in actions
    assert len(actions) <= MAX_ACTIONS + 1  # the rest fall into "other"
    assert _value(samples, "kinetic_reconciliation_actions_total", engine="spot",
                  action="other") >= 5  # fmt: skip


async def test_attach_wires_the_oms_store_and_recorder_hooks() -> None:
    fw = futures_world()
    orch = _orchestrator(fw)
    metrics = DaemonMetrics(lambda: orch)
    listeners: list[object] = []
    metrics.attach(orch, listeners)
    await _enter_futures(fw)  # candle -> store hook; entry + stop -> OMS hook
    fams = _parse(metrics)
    c2o = fams["kinetic_candle_to_order_seconds"]
    assert _value(c2o, "kinetic_candle_to_order_seconds_count", engine="futures") == 1
    rt = fams["kinetic_order_roundtrip_seconds"]
    assert _value(rt, "kinetic_order_roundtrip_seconds_count", engine="futures") == 2
    assert listeners == [metrics.observers]


def test_venue_families_read_every_http_client_of_the_venue() -> None:
    from kinetic.venues.http import HttpClient, Window, WindowLimiter

    fw = futures_world()
    clock = fw.clock
    limiter = WindowLimiter(clock, [
        Window("weight_1m", 60, 2400, header="X-MBX-USED-WEIGHT-1M"),
        Window("orders_10s", 10, 50, counts_orders=True),
    ])  # fmt: skip
    client = HttpClient("binance", "http://127.0.0.1:9", clock, lambda _r: None, limiter=limiter)

    class Rest:  # a venue client holding its HTTP client one object down (like Binance's)
        __module__ = "kinetic.venues.test"

        def __init__(self) -> None:
            self.http = client

    fw.engine.d.venue.rest = Rest()  # type: ignore[attr-defined]
    limiter.on_response({"X-MBX-USED-WEIGHT-1M": "321"})  # the venue's own count wins
    client.gate.pause(120, ban=True)
    client.gate.pause(5)  # a 429 back-off is no ban
    orch = _orchestrator(fw)
    fams = _parse(DaemonMetrics(lambda: orch))
    used = fams["kinetic_venue_rate_limit_used"]
    assert _value(used, "kinetic_venue_rate_limit_used", engine="futures", venue="binance",
                  budget="weight_1m") == 321  # fmt: skip
    bans = fams["kinetic_venue_bans"]
    assert _value(bans, "kinetic_venue_bans_total", engine="futures", venue="binance") == 1
    paused = fams["kinetic_venue_paused_seconds"]
    assert _value(paused, "kinetic_venue_paused_seconds", engine="futures", venue="binance") > 100
    size = fams["kinetic_venue_rate_limit_max"]
    assert _value(size, "kinetic_venue_rate_limit_max", engine="futures", venue="binance",
                  budget="weight_1m") == 2400  # fmt: skip

"""Read the running daemon's state into plain data: the live feed's and /metrics' source.

Everything here is read at call time from the orchestrator and its engines (in memory,
no database query), so a dashboard tick or a Prometheus scrape costs a walk over the open
positions and orders, nothing more. Money is reported as float (display and metrics;
the books keep their Decimals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kinetic.domain import MarketType
from kinetic.engines.base import BaseEngine
from kinetic.supervisor.orchestrator import Orchestrator
from kinetic.supervisor.trading_states import DAEMON


def _f(x: Decimal | float | int | None) -> float | None:
    return None if x is None else round(float(x), 8)


@dataclass(frozen=True, slots=True)
class Totals:
    """Portfolio-wide figures from the engines' books and the global risk monitor."""

    equity: float
    cash: float
    realized: float
    unrealized: float
    exposure: float
    daily_pnl: float
    peak: float
    drawdown_pct: float


def engines(orch: Orchestrator) -> dict[str, BaseEngine]:
    """The orchestrator's engines that are full engines (tests may plug in others)."""
    return {n: e for n, e in orch.engines.items() if isinstance(e, BaseEngine)}


def totals(orch: Orchestrator) -> Totals:
    """Sum the engines' books; daily PnL and drawdown as the risk monitor sees them."""
    equity = cash = realized = unrealized = exposure = 0.0
    for engine in engines(orch).values():
        prices = engine.prices()
        pm = engine.d.positions
        equity += float(pm.equity(prices))
        cash += float(pm.cash)
        realized += float(pm.realized_pnl)
        unrealized += float(pm.unrealized(prices))
        exposure += float(pm.exposure(prices))
    rm = orch.risk_monitor
    peak = max(rm.peak_portfolio_value, equity)
    daily = equity - rm.day_start_value if rm.day is not None else 0.0
    drawdown = (peak - equity) / peak * 100.0 if peak > 0 else 0.0
    return Totals(equity, cash, realized, unrealized, exposure, daily, peak, max(0.0, drawdown))


def exposure_by(orch: Orchestrator) -> tuple[dict[str, float], dict[str, float]]:
    """Exposure (market value spot, margin futures) by engine and by base asset."""
    by_engine: dict[str, float] = {}
    by_asset: dict[str, float] = {}
    for name, engine in engines(orch).items():
        prices = engine.prices()
        pm = engine.d.positions
        by_engine[name] = float(pm.exposure(prices))
        for symbol, pos in pm.positions.items():
            inst = engine.d.instruments.get(symbol)
            asset = inst.base if inst is not None else symbol
            price = prices.get(symbol, pos.entry_price)
            notional = (
                pos.notional(price)
                if engine.market is MarketType.SPOT
                else (pos.notional(pos.entry_price) / Decimal(pos.leverage))
            )
            by_asset[asset] = by_asset.get(asset, 0.0) + float(notional)
    return by_engine, by_asset


def heartbeat_age(orch: Orchestrator, name: str) -> float | None:
    """Seconds since the engine's last heartbeat (None before the first)."""
    if name not in orch.health_monitor.engine_health:
        return None
    age = orch.health_monitor.heartbeat_age(name)
    return None if math.isinf(age) else round(age, 3)


def engine_cards(orch: Orchestrator) -> list[dict[str, Any]]:
    """Per engine: status, heartbeat age, restarts, strategy, state, drift, PnL."""
    cards = []
    for name, engine in engines(orch).items():
        health = orch.health_monitor.engine_health.get(name)
        own = orch.states.own(name)
        drift = engine.drift
        prices = engine.prices()
        pm = engine.d.positions
        cards.append({
            "name": name,
            "market": str(engine.market),
            "status": str(health.status if health else engine.status),
            "healthy": bool(health.healthy) if health else False,
            "heartbeat_age_s": heartbeat_age(orch, name),
            "restarts": health.restart_count if health else 0,
            "last_error": (health.last_error or "")[:200] if health else "",
            "strategy": getattr(engine.d.strategy, "name", type(engine.d.strategy).__name__),
            "watchlist": list(engine.d.symbols),
            "state": str(orch.states.state(name)),
            "own_state": own.as_dict(),
            "drifting": bool(drift is not None and drift.drifting),
            "drift": [d.describe() for d in drift.current] if drift is not None else [],
            "equity": _f(pm.equity(prices)),
            "realized": _f(pm.realized_pnl),
            "unrealized": _f(pm.unrealized(prices)),
            "positions": len(pm.positions),
            "open_orders": len(engine.d.oms.open_orders()),
            "fills": pm.fill_count,
        })  # fmt: skip
    return cards


def positions(orch: Orchestrator) -> list[dict[str, Any]]:
    """Every open position with its stop, take-profit and liquidation price."""
    out = []
    for name, engine in engines(orch).items():
        prices = engine.prices()
        for symbol, p in engine.d.positions.positions.items():
            price = prices.get(symbol)
            out.append({
                "engine": name,
                "symbol": symbol,
                "side": str(p.side),
                "quantity": _f(p.quantity),
                "entry_price": _f(p.entry_price),
                "price": _f(price),
                "stop_price": _f(p.stop_price),
                "take_profit": _f(p.take_profit),
                "liquidation_price": _f(p.liquidation_price),
                "leverage": p.leverage,
                "unrealized": _f(p.unrealized_pnl(price)) if price is not None else None,
                "opened_ms": p.opened_ms,
                "reason": p.entry_reason,
            })  # fmt: skip
    return out


def open_orders(orch: Orchestrator) -> list[dict[str, Any]]:
    """Every open order of every engine, with why it was sent."""
    out = []
    for name, engine in engines(orch).items():
        oms = engine.d.oms
        for o in oms.open_orders():
            out.append({
                "engine": name,
                "client_order_id": o.client_order_id,
                "symbol": o.symbol,
                "side": str(o.side),
                "type": str(o.order_type),
                "status": str(o.status),
                "quantity": _f(o.quantity),
                "filled": _f(o.filled_qty),
                "price": _f(o.price),
                "stop_price": _f(o.stop_price),
                "reduce_only": o.reduce_only,
                "reason": oms.reason(o.client_order_id),
                "created_ms": o.created_ms,
            })  # fmt: skip
    return out


def risk(orch: Orchestrator) -> dict[str, Any]:
    """Trading states (daemon first, engines' effective ones) and the circuit breakers."""
    rm = orch.risk_monitor
    states = {scope: s.as_dict() for scope, s in orch.states.snapshot().items()}
    for name in orch.engines:
        if name in states:
            states[name]["effective"] = str(orch.states.state(name))
    daemon = orch.states.own(DAEMON)
    worst = daemon.state
    for name in orch.engines:
        worst = worst.worst(orch.states.state(name))
    return {
        "states": states,
        "overall": str(worst),
        "breaker": {
            "active": rm.breaker_in_force(),
            "reason": rm.breaker_reason(),
            "until": rm.circuit_breaker_until,
            "drawdown_latched": rm.drawdown_latched,
        },
    }

"""Portfolio: summary, positions, exposure, trades, the equity series, a snapshot now."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from kinetic.api import queries, views
from kinetic.api.context import ApiContext, ctx_of
from kinetic.api.envelope import dumps, ok
from kinetic.api.registry import parse_query, route
from kinetic.api.routes.operator import operate
from kinetic.domain import ZERO
from kinetic.supervisor.trading_states import DAEMON

TAG = "portfolio"
MAX_MS = 2**53
SUMMARY_TTL_S = 0.25  # the summary is recomputed at most 4 times a second


class EngineSummary(BaseModel):
    equity_usd: float
    realized_pnl_usd: float
    unrealized_pnl_usd: float
    open_positions: int
    fills: int
    status: str
    trading_state: str


class SummaryView(BaseModel):
    total_value_usd: float
    total_pnl_usd: float
    total_pnl_pct: float
    initial_capital_usd: float
    daily_pnl_usd: float
    peak_equity_usd: float
    drawdown_pct: float
    open_positions: int
    circuit_breaker_active: bool
    trading_state: str
    kill_switch: bool
    engines: dict[str, EngineSummary]


class TradesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: str | None = Field(None, max_length=64)
    symbol: str | None = Field(None, max_length=32)
    since: int = Field(0, ge=0, le=MAX_MS, description="closed at or after (epoch ms)")
    limit: int = Field(100, ge=1, le=1000)


class EquityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: str | None = Field(None, max_length=64)
    since: int = Field(0, ge=0, le=MAX_MS, description="epoch ms")
    limit: int = Field(2000, ge=1, le=10_000)


class SnapshotBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


def summary_data(ctx: ApiContext) -> dict[str, Any]:
    """The portfolio summary (``GET /api/portfolio/summary``), from memory only."""
    orch = ctx.orchestrator
    status = orch.get_combined_status()
    rm = orch.risk_monitor
    total = float(status.total_value_usd)
    peak = max(rm.peak_portfolio_value, total)
    engines = {
        name: {
            "equity_usd": snap.equity_usd,
            "realized_pnl_usd": snap.realized_pnl_usd,
            "unrealized_pnl_usd": snap.unrealized_pnl_usd,
            "open_positions": snap.open_positions,
            "fills": snap.fills,
            "status": str(status.engines_status.get(name, "")),
            "trading_state": str(orch.states.state(name)),
        }
        for name, snap in status.engines.items()
    }
    control = ctx.control.status()
    return {
        "total_value_usd": total,
        "total_pnl_usd": status.total_pnl_usd,
        "total_pnl_pct": round(status.total_pnl_pct, 6),
        "initial_capital_usd": orch.config.initial_capital_usd,
        "daily_pnl_usd": rm.daily_pnl if rm.day is not None else 0.0,
        "peak_equity_usd": peak,
        "drawdown_pct": round((peak - total) / peak * 100, 6) if peak > 0 else 0.0,
        "open_positions": status.spot_positions + status.futures_positions,
        "circuit_breaker_active": status.circuit_breaker_active,
        "trading_state": str(orch.states.state(DAEMON)),
        "kill_switch": control["kill_switch"],
        "engines": engines,
    }


async def summary(request: web.Request) -> web.Response:
    """Served from a copy at most ``SUMMARY_TTL_S`` old: 50 dashboards polling it cost the
    engines' event loop one computation per period, not one per request."""
    ctx = ctx_of(request)
    now = ctx.clock.time()
    cached = ctx.extra.get("summary")
    if cached is None or now - cached[0] >= SUMMARY_TTL_S:
        cached = (now, dumps({"data": summary_data(ctx), "error": None}).encode())
        ctx.extra["summary"] = cached
    return web.Response(body=cached[1], content_type="application/json")


async def positions(request: web.Request) -> web.Response:
    return ok(views.positions(ctx_of(request).orchestrator))


async def exposure(request: web.Request) -> web.Response:
    orch = ctx_of(request).orchestrator
    by_asset: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_engine: dict[str, Decimal] = {}
    for name, engine in views.engines_of(orch).items():
        by_engine[name] = ZERO
        for symbol, pos in engine.d.positions.positions.items():
            inst = engine.d.instruments.get(symbol)
            asset = inst.base if inst is not None else symbol
            notional = (engine.price(symbol) or pos.entry_price) * pos.quantity
            by_asset[asset] += notional
            by_engine[name] += notional
    total = sum(by_engine.values(), ZERO)
    return ok({"total_usd": total, "by_engine": by_engine, "by_asset": dict(by_asset)})


async def trades(request: web.Request) -> web.Response:
    q = parse_query(request, TradesQuery)
    ctx = ctx_of(request)
    return ok(await queries.trades(ctx.db, q.engine, q.symbol, q.since, q.limit))


async def equity(request: web.Request) -> web.Response:
    q = parse_query(request, EquityQuery)
    ctx = ctx_of(request)
    return ok(await queries.equity(ctx.db, q.engine, q.since, q.limit))


async def snapshot(request: web.Request) -> web.Response:
    return await operate(request, "snapshot", SnapshotBody, lambda _b: {})


def add_routes(app: web.Application, ctx: ApiContext) -> None:
    route(
        app,
        "GET",
        "/api/portfolio/summary",
        summary,
        tag=TAG,
        response=SummaryView,
        summary="Total value, PnL (total, daily), drawdown, per-engine figures",
    )
    route(
        app,
        "GET",
        "/api/portfolio/positions",
        positions,
        tag=TAG,
        summary="Open positions with stop, take-profit and liquidation price",
    )
    route(
        app,
        "GET",
        "/api/portfolio/exposure",
        exposure,
        tag=TAG,
        summary="Exposure (position notional at the last price, USD) by asset and by engine",
    )
    route(
        app,
        "GET",
        "/api/portfolio/trades",
        trades,
        tag=TAG,
        query=TradesQuery,
        summary="Closed trades, newest first (filters: engine, symbol, since, limit)",
    )
    route(
        app,
        "GET",
        "/api/portfolio/equity",
        equity,
        tag=TAG,
        query=EquityQuery,
        summary="The equity series (snapshots per engine), oldest first",
    )
    route(
        app,
        "POST",
        "/api/portfolio/snapshot",
        snapshot,
        tag=TAG,
        body=SnapshotBody,
        action="snapshot",
        summary="Write every engine's equity snapshot now",
    )

"""Engines: status, heartbeat, restarts, strategy, watchlist, PnL; pause/resume entries,
enable/disable; the strategy's safe parameter (its minimum confidence)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from kinetic.api.context import ApiContext, ctx_of
from kinetic.api.envelope import ApiError, ok
from kinetic.api.registry import route
from kinetic.api.routes.operator import operate

TAG = "engines"


class EngineBody(BaseModel):
    """``enabled: false`` disables (HALTED; confirmed); ``entries_paused`` pauses entries."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    entries_paused: bool | None = None
    reason: str = Field("", max_length=500)
    confirm_token: str | None = Field(None, max_length=200)


class StrategyBody(BaseModel):
    """The strategy's safe parameter: the minimum signal confidence for an entry."""

    model_config = ConfigDict(extra="forbid")
    min_confidence: int = Field(ge=0, le=100)
    confirm_token: str | None = Field(None, max_length=200)


def _engine(ctx: ApiContext, name: str) -> Any:
    engine = ctx.orchestrator.engines.get(name)
    if engine is None:
        known = ", ".join(ctx.orchestrator.engines)
        raise ApiError(404, f"unknown engine {name!r} (known: {known})")
    return engine


def _strategy(ctx: ApiContext, name: str) -> dict[str, Any]:
    cfg = ctx.orchestrator.config
    engine = _engine(ctx, name)
    return {
        "engine": name,
        "name": cfg.spot_strategy if name == "spot" else cfg.futures_strategy,
        "class": type(engine.d.strategy).__name__,
        "timeframe": cfg.timeframe,
        "params": {"min_confidence": getattr(cfg, f"{name}_min_confidence")},
    }


def engine_view(ctx: ApiContext, name: str) -> dict[str, Any]:
    orch = ctx.orchestrator
    engine = _engine(ctx, name)
    health = orch.health_monitor.engine_health.get(name)
    hb = health.last_heartbeat if health else None
    snap = engine.snapshot(hb, health.restart_count if health else 0)
    age = orch.health_monitor.heartbeat_age(name) if hb is not None else None
    return {
        "name": name,
        "status": str(health.status if health else snap.status),
        "healthy": bool(health and health.healthy),
        "heartbeat_age_s": round(age, 3) if age is not None else None,
        "restarts": snap.restart_count,
        "last_error": health.last_error if health else None,
        "strategy": _strategy(ctx, name)["name"],
        "watchlist": list(engine.d.symbols),
        "equity_usd": snap.equity_usd,
        "realized_pnl_usd": snap.realized_pnl_usd,
        "unrealized_pnl_usd": snap.unrealized_pnl_usd,
        "open_positions": snap.open_positions,
        "fills": snap.fills,
        "allocated_pct": orch.capital_allocator.allocated_pct(name),
        **ctx.control.engine_state(name),
    }


async def list_engines(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return ok([engine_view(ctx, name) for name in ctx.orchestrator.engines])


async def patch_engine(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return await operate(
        request,
        "engine_update",
        EngineBody,
        lambda b: {
            "engine": name,
            "enabled": b.enabled,
            "entries_paused": b.entries_paused,
            "reason": b.reason,
        },
    )


async def get_strategy(request: web.Request) -> web.Response:
    return ok(_strategy(ctx_of(request), request.match_info["name"]))


async def patch_strategy(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    _engine(ctx_of(request), name)
    return await operate(
        request,
        "risk_config",
        StrategyBody,
        lambda b: {"changes": {f"{name}_min_confidence": b.min_confidence}},
    )


def add_routes(app: web.Application, ctx: ApiContext) -> None:
    route(
        app,
        "GET",
        "/api/engines",
        list_engines,
        tag=TAG,
        summary="Every engine: status, heartbeat age, restarts, strategy, watchlist, PnL",
    )
    route(
        app,
        "PATCH",
        "/api/engines/{name}",
        patch_engine,
        tag=TAG,
        body=EngineBody,
        action="engine_update",
        confirm=True,
        summary="Enable/disable an engine (disable is confirmed), pause/resume entries",
    )
    route(
        app,
        "GET",
        "/api/engines/{name}/strategy",
        get_strategy,
        tag=TAG,
        summary="The engine's strategy and its safe parameters",
    )
    route(
        app,
        "PATCH",
        "/api/engines/{name}/strategy",
        patch_strategy,
        tag=TAG,
        body=StrategyBody,
        action="risk_config",
        confirm=True,
        summary="Change the strategy's minimum confidence (a risk change: confirmed)",
    )

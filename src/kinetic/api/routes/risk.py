"""Risk: trading states, breakers, drawdown, daily PnL, drift; the runtime risk config;
the kill switch."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from kinetic.api.context import ApiContext, ctx_of
from kinetic.api.envelope import ok
from kinetic.api.registry import route
from kinetic.api.routes.operator import operate
from kinetic.supervisor.trading_states import DAEMON

TAG = "risk"


class RiskConfigBody(BaseModel):
    """Fields to change (see GET /api/risk/config for the names); confirmed like all risk
    changes."""

    model_config = ConfigDict(extra="forbid")
    changes: dict[str, float | int] = Field(min_length=1, max_length=20)
    confirm_token: str | None = Field(None, max_length=200)


class KillSwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool
    reason: str = Field("", max_length=500)
    engine: str | None = Field(None, max_length=64, description="off: clear only this engine")
    confirm_token: str | None = Field(None, max_length=200)


def risk_status(ctx: ApiContext) -> dict[str, Any]:
    """States, breaker, drawdown, daily PnL and drift (``GET /api/risk/status``)."""
    orch = ctx.orchestrator
    rm, cfg = orch.risk_monitor, orch.config
    total = float(orch.total_value())
    peak = max(rm.peak_portfolio_value, total)
    states = {
        scope: {**own.as_dict(), "effective": str(orch.states.state(scope))}
        for scope, own in orch.states.snapshot().items()
    }
    drift = {}
    for name, engine in orch.engines.items():
        checker = getattr(engine, "drift", None)
        drift[name] = {
            "drifting": bool(checker and checker.drifting),
            "differences": [d.describe() for d in checker.current] if checker else [],
            "checks": checker.checks if checker else 0,
        }
    start = rm.day_start_value
    return {
        "trading_states": states,
        "kill_switch": ctx.control.status()["kill_switch"],
        "breaker": {
            "active": rm.breaker_in_force(),
            "reason": rm.breaker_reason(),
            "until_s": rm.circuit_breaker_until,
            "drawdown_hold": rm.drawdown_latched,
        },
        "drawdown": {
            "pct": round((peak - total) / peak * 100, 6) if peak > 0 else 0.0,
            "peak_usd": peak,
            "limit_pct": cfg.global_max_drawdown_pct,
        },
        "daily_pnl": {
            "usd": rm.daily_pnl if rm.day is not None else 0.0,
            "pct": round(rm.daily_pnl / start * 100, 6) if start > 0 else 0.0,
            "limit_pct": cfg.global_daily_loss_limit_pct,
            "day": rm.day,
        },
        "drift": drift,
        "daemon_state": str(orch.states.state(DAEMON)),
    }


async def status(request: web.Request) -> web.Response:
    return ok(risk_status(ctx_of(request)))


async def get_config(request: web.Request) -> web.Response:
    return ok(ctx_of(request).control.risk_config())


async def patch_config(request: web.Request) -> web.Response:
    return await operate(request, "risk_config", RiskConfigBody, lambda b: {"changes": b.changes})


async def kill_switch(request: web.Request) -> web.Response:
    return await operate(
        request,
        "kill_switch",
        KillSwitchBody,
        lambda b: {"active": b.active, "reason": b.reason, "engine": b.engine},
    )


def add_routes(app: web.Application, ctx: ApiContext) -> None:
    route(
        app,
        "GET",
        "/api/risk/status",
        status,
        tag=TAG,
        summary="Trading states, breaker, drawdown, daily PnL, drift",
    )
    route(
        app,
        "GET",
        "/api/risk/config",
        get_config,
        tag=TAG,
        summary="The runtime-changeable risk fields and their values",
    )
    route(
        app,
        "PATCH",
        "/api/risk/config",
        patch_config,
        tag=TAG,
        body=RiskConfigBody,
        action="risk_config",
        confirm=True,
        summary="Change risk fields at run time (validated like config.py; confirmed)",
    )
    route(
        app,
        "POST",
        "/api/risk/kill_switch",
        kill_switch,
        tag=TAG,
        body=KillSwitchBody,
        action="kill_switch",
        confirm=True,
        summary="Kill switch on (HALTED, entries cancelled, stops kept) or off (confirmed)",
    )

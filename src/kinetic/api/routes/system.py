"""System: health (no token), the OpenAPI document, the redacted config, events."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from kinetic import __version__
from kinetic.api import openapi
from kinetic.api.context import ApiContext, ctx_of
from kinetic.api.envelope import ok
from kinetic.api.registry import PUBLIC_PATHS, parse_query, route
from kinetic.domain import EngineStatus
from kinetic.logging import REDACTOR

TAG = "system"


class EngineHealthView(BaseModel):
    status: str
    healthy: bool
    heartbeat_age_s: float | None
    restarts: int
    last_error: str | None
    trading_state: str


class HealthView(BaseModel):
    status: str = Field(description="ok, or degraded when an engine is unhealthy or stopped")
    version: str
    schema_revision: str | None
    mode: str
    uptime_s: float
    engines: dict[str, EngineHealthView]


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str | None = Field(None, max_length=64)
    limit: int = Field(100, ge=1, le=1000)


async def health(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return ok(await health_data(ctx))


async def health_data(ctx: ApiContext) -> dict[str, Any]:
    """The health figures (``GET /api/system/health``)."""
    orch, hm = ctx.orchestrator, ctx.orchestrator.health_monitor
    engines: dict[str, Any] = {}
    for name in orch.engines:
        h = hm.engine_health.get(name)
        age = hm.heartbeat_age(name) if h is not None and h.last_heartbeat is not None else None
        engines[name] = {
            "status": str(h.status) if h else str(EngineStatus.STOPPED),
            "healthy": bool(h and h.healthy and h.status is EngineStatus.RUNNING),
            "heartbeat_age_s": round(age, 3) if age is not None else None,
            "restarts": h.restart_count if h else 0,
            "last_error": h.last_error if h else None,
            "trading_state": str(orch.states.state(name)),
        }
    if "schema_revision" not in ctx.extra:
        ctx.extra["schema_revision"] = await ctx.db.schema_version()
    return {
        "status": "ok" if all(e["healthy"] for e in engines.values()) else "degraded",
        "version": __version__,
        "schema_revision": ctx.extra["schema_revision"],
        "mode": ctx.mode,
        "uptime_s": round(ctx.clock.time() - ctx.started_s, 3),
        "engines": engines,
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi.build(request.app))


async def system_config(request: web.Request) -> web.Response:
    """The running configuration (with the runtime overlay); it holds no secrets."""
    ctx = ctx_of(request)
    config = ctx.orchestrator.config
    return ok(
        {
            "config": REDACTOR.scrub(config.model_dump(mode="json")),  # belt and braces
            "runtime_risk": ctx.control.risk_config(),
            "mode": ctx.mode,
            "api": {"host": config.api_host, "read_only": ctx.read_only, "auth": ctx.auth_enabled},
        }
    )


async def events(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    q = parse_query(request, EventsQuery)
    rows = await ctx.repos.events.list(q.kind, q.limit)
    return ok(
        [
            {
                "id": e.id,
                "ts_ms": e.ts_ms,
                "kind": e.kind,
                "engine": e.engine,
                "message": e.message,
                "data": e.data,
            }
            for e in rows
        ]
    )


def add_routes(app: web.Application, ctx: ApiContext) -> None:
    route(
        app,
        "GET",
        "/api/system/health",
        health,
        summary="Health (no token needed)",
        tag=TAG,
        response=HealthView,
        public=True,
    )
    app.router.add_get("/api/openapi.json", openapi_json)
    app[PUBLIC_PATHS].add("/api/openapi.json")
    route(
        app,
        "GET",
        "/api/system/config",
        system_config,
        tag=TAG,
        summary="The running configuration, redacted, with the runtime risk overlay",
    )
    route(
        app,
        "GET",
        "/api/system/events",
        events,
        tag=TAG,
        query=EventsQuery,
        summary="Recent events, newest first (audit trail included: kind=operator)",
    )
